"""Characters that act on a terminal instead of showing: which text may hold them, and how output shows them.

A control character (C0 U+0000-U+001F, DEL U+007F, C1 U+0080-U+009F) starts
an escape sequence: ESC [2J clears the screen, OSC 52 writes the clipboard,
OSC 8 draws a hyperlink whose target is not its text, U+009B is CSI on its
own. A bidirectional formatting character (the overrides, embeddings and
isolates, and the marks U+200E, U+200F, U+061C) makes text show in another
order than it is stored, so two names that look alike differ. Names and
scenario texts may hold none of them (``first_unsafe``); everything the CLI
prints escapes them (``escape``): ESC shows as ``\\x1b``, U+202E as ``\\u202e``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from typing import Any

from .errors import UserError

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
"""The bidirectional formatting characters refused and escaped: ALM, LRM, RLM, LRE, RLE, PDF, LRO, RLO, LRI, RLI,
FSI, PDI. The marks are in too: they are invisible and tell apart names that look the same."""

LINE_BREAKS = "\n\t"  # what a text (a description, a memory) may hold and output keeps; a name may not
CURSOR_UP = "\x1b[A"  # what progress bars write to stack their lines (tqdm); kept on stderr only
PROGRESS = frozenset({*LINE_BREAKS, "\r", CURSOR_UP})  # what stderr keeps for the progress bars drawn on it

_CHAR = f"[\x00-\x1f\x7f-\x9f{BIDI}]"
_ONE = re.compile(_CHAR)
_OUTPUT = re.compile(f"{re.escape(CURSOR_UP)}|{_CHAR}")

_C0 = ("NUL SOH STX ETX EOT ENQ ACK BEL BS TAB LF VT FF CR SO SI DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM SUB ESC "
       "FS GS RS US").split()
_C1 = ("PAD HOP BPH NBH IND NEL SSA ESA HTS HTJ VTS PLD PLU RI SS2 SS3 DCS PU1 PU2 STS CCH MW SPA EPA SOS SGCI SCI "
       "CSI ST OSC PM APC").split()
_BIDI_NAMES = "ALM LRM RLM LRE RLE PDF LRO RLO LRI RLI FSI PDI".split()

REFUSED = "names and texts may not hold control or bidirectional-override characters"


def describe(char: str) -> str:
    """``U+001B (ESC)``: the code point and its short name."""
    code = ord(char)
    if code < 0x20:
        name = _C0[code]
    elif code == 0x7F:
        name = "DEL"
    elif 0x80 <= code <= 0x9F:
        name = _C1[code - 0x80]
    else:
        name = _BIDI_NAMES[BIDI.index(char)] if char in BIDI else ""
    return f"U+{code:04X} ({name})" if name else f"U+{code:04X}"


def first_unsafe(text: str, *, line_breaks: bool) -> str | None:
    """The first character ``text`` may not hold; ``line_breaks``: a text of several lines (\\n and \\t allowed).

    A one-line field (a name) may still begin or end with a line break: the schema strips those.
    """
    allowed = LINE_BREAKS if line_breaks else ""
    inner = text if line_breaks else text.strip(" " + LINE_BREAKS)
    return next((m.group() for m in _ONE.finditer(inner) if m.group() not in allowed), None)


def refusal(char: str) -> str:
    """Why a name or text holding ``char`` is refused, as the end of one error line."""
    what = "bidirectional-override" if char in BIDI else "control"
    if char in LINE_BREAKS:
        return f"contains the control character {describe(char)}; a name or other one-line field is one line"
    return f"contains the {what} character {describe(char)}; {REFUSED}"


def unsafe_strings(data: Any, spans_lines: Callable[[str | None], bool], path: tuple[Any, ...] = ()
                   ) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(path, why) for every string in ``data`` (mappings, lists, their keys) holding a character it may not.

    A string may span lines where ``spans_lines`` holds for the last key on its path (``description``,
    ``memories``); any other is one line. A key is one line, reported at its own path.
    """
    if isinstance(data, str):
        key = next((p for p in reversed(path) if isinstance(p, str)), None)
        char = first_unsafe(data, line_breaks=spans_lines(key))
        if char is not None:
            yield path, refusal(char)
    elif isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and (char := first_unsafe(key, line_breaks=False)) is not None:
                yield path + (key,), f"a key {refusal(char)}"
            yield from unsafe_strings(value, spans_lines, path + (key,))
    elif isinstance(data, (list, tuple)):
        for i, item in enumerate(data):
            yield from unsafe_strings(item, spans_lines, path + (i,))


def refuse_unsafe(data: Any, what: str, spans_lines: Callable[[str | None], bool] = lambda key: True) -> None:
    """Raise UserError for the first string in ``data`` that holds what it may not: ``WHAT: field: why``."""
    for where, why in unsafe_strings(data, spans_lines):
        raise UserError(": ".join([what, *([".".join(map(str, where))] if where else []), why]))


def escape(text: str, keep: Collection[str] = LINE_BREAKS) -> str:
    """``text`` with every control and bidirectional character written out (``\\x1b``, ``\\u202e``) but ``keep``'s."""
    if not _OUTPUT.search(text):
        return text
    return _OUTPUT.sub(lambda m: m.group() if m.group() in keep else "".join(map(_written, m.group())), text)


def _written(char: str) -> str:
    if not _ONE.fullmatch(char):  # the "[A" of a cursor-up not kept
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
