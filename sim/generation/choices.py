"""Choices from servers: a constraint that makes the server answer with an option, else the option an answer names.

Servers differ in how an answer can be restricted to fixed options: vLLM takes
``structured_outputs: {"choice": [...]}`` (``guided_choice`` before), llama.cpp
a GBNF ``grammar``, SGLang a ``regex``, and several an OpenAI-style
``response_format`` JSON schema (the answer is then a JSON string). Some
servers reject fields they do not know (HTTP 400, or 422 like ``transformers
serve``), others silently ignore them. So the backend tries them in that order
and learns which one works from the answers it gets: a rejected field, or an
answer that is not exactly an option (a constrained server cannot give one),
rules a field out. Every answer is parsed to an option in any case
(``parse_choice``). An in-process model scores the options instead
(``continuation_ids`` gives each option's tokens after the prompt).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

from .freetext import parse_choice

__all__ = ["GUIDED_MODES", "GUIDED_PARAMS", "GuidedChoice", "choice_max_tokens", "continuation_ids",
           "guided_answer", "guided_fields", "parse_choice"]

log = logging.getLogger(__name__)

# vLLM (newest name first), llama.cpp, SGLang, then the OpenAI-style JSON schema several servers take
GUIDED_PARAMS = ("structured_outputs", "guided_choice", "grammar", "regex", "response_format")
GUIDED_MODES = ("auto", "off", *GUIDED_PARAMS)
# A free-text answer is read up to its first line break: the next lines are the model going on with the prompt
# (the next worked example names other options). Cut here, not sent as ``stop``: a server whose tokenizer cannot
# encode a stop string fails the request (transformers serve answers HTTP 500).
CHOICE_STOP = ("\n",)
_REGEX_SPECIAL = re.compile(r"([\\.^$*+?{}\[\]|()])")


def choice_max_tokens(options: Sequence[str]) -> int:
    """Room for the longest option (a token is at least one byte) plus a few tokens of preamble."""
    return min(256, 8 + max(len(option.encode()) for option in options))


class GuidedChoice:
    """Which constraint field the server honours, learnt from its answers (thread-safe)."""

    def __init__(self, mode: str):
        if mode not in GUIDED_MODES:
            raise ValueError(f"guided must be one of {', '.join(GUIDED_MODES)}, not {mode!r}")
        self.forced = mode in GUIDED_PARAMS
        self._candidates = [] if mode == "off" else list(GUIDED_PARAMS if mode == "auto" else [mode])
        self._lock = threading.Lock()

    def current(self) -> str | None:
        with self._lock:
            return self._candidates[0] if self._candidates else None

    def drop(self, param: str, why: str) -> None:
        """Stop sending ``param`` (unless the user asked for it by name)."""
        with self._lock:
            if self.forced or not self._candidates or self._candidates[0] != param:
                return
            self._candidates.pop(0)
            log.info("guided choice: not using %r (%s); next: %s", param, why, self._candidates[:1] or "parsing")

    def answered(self, param: str | None, exact: bool) -> None:
        """Free text under ``param`` means the server ignored it: a constrained answer is always an option.

        (One exact answer proves nothing: a small model often says just "7" unasked.)
        """
        if param is not None and not exact:
            self.drop(param, "the server answered with free text")


def guided_fields(param: str | None, options: Sequence[str]) -> dict[str, Any]:
    """The request fields that restrict the answer to ``options`` under ``param``'s name."""
    choices = list(options)
    if param == "structured_outputs":
        return {"structured_outputs": {"choice": choices}}
    if param == "guided_choice":
        return {"guided_choice": choices}
    if param == "grammar":  # GBNF: root ::= "yes" | "no"
        return {"grammar": "root ::= " + " | ".join(json.dumps(option, ensure_ascii=False) for option in choices)}
    if param == "regex":
        return {"regex": "(" + "|".join(_REGEX_SPECIAL.sub(r"\\\1", option) for option in choices) + ")"}
    if param == "response_format":
        schema = {"type": "string", "enum": choices}
        return {"response_format": {"type": "json_schema", "json_schema": {"name": "choice", "schema": schema}}}
    return {}


def guided_answer(param: str | None, text: str, options: Sequence[str]) -> str | None:
    """The option ``text`` is exactly, as a server constrained by ``param`` writes it (JSON for a schema)."""
    stripped = text.strip()
    if stripped in options:
        return stripped
    if param == "response_format":
        try:
            value = json.loads(stripped)
        except ValueError:
            return None
        return value if isinstance(value, str) and value in options else None
    return None


def continuation_ids(tokenizer: Any, prompt: str, prompt_ids: list[int], continuation: str) -> list[int]:
    """Token ids of ``continuation`` as the model would see it after ``prompt`` (whose ids are ``prompt_ids``)."""
    full = tokenizer(prompt + continuation).input_ids
    if full[: len(prompt_ids)] == prompt_ids and len(full) > len(prompt_ids):
        return full[len(prompt_ids):]
    ids = tokenizer(continuation, add_special_tokens=False).input_ids
    return ids or [tokenizer.unk_token_id or 0]
