"""Prompt templates: plain-text files in ``agents/prompts/``, filled with ``str.format``.

Prompts live as files so they can be read and tuned without touching code.
They are completion-style (the model continues a document that already shows
one or two worked examples), which is what a small base model follows best.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

PROMPTS = Path(__file__).parent.parent / "prompts"
_BLANKS = re.compile(r"\n{3,}")


@functools.cache
def template(name: str) -> str:
    """A template's text, read once (most are used on every step of every agent)."""
    return (PROMPTS / f"{name}.txt").read_text()


def render(template_name: str, /, **fields: object) -> str:
    """Fill a template; runs of blank lines left by empty fields collapse to one.

    Trailing whitespace is dropped: a prompt ending in a newline or a space
    pulls a small model off the format (it answers "1.\\n" with "2.\\n").
    """
    return _BLANKS.sub("\n\n", template(template_name).format(**fields)).rstrip()


def copied_from_example(items: list[str], template_name: str) -> bool:
    """True when most ``items`` are lifted from the template's worked example.

    Small models like to repeat the example instead of answering; such an
    answer parses but is wrong, so callers treat it as unparseable.
    """
    example = template(template_name).lower()
    copies = sum(1 for item in items if len(item) > 8 and item.lower() in example)
    return copies * 2 > len(items)


def numbered(lines: list[str], empty: str = "(none)") -> str:
    """``1. first`` / ``2. second``... as one block, the way the prompts list statements."""
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1)) or empty
