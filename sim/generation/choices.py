"""Choices from servers: guided choice where a server offers it, else the option an answer names.

Servers differ in what they honour (vLLM's ``structured_outputs`` and older
``guided_choice``; others reject or silently ignore both), so the backend
learns which parameter works from the answers it gets, and every answer is
parsed to an option in any case. An in-process model scores the options
instead (``continuation_ids`` gives each option's tokens after the prompt).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

GUIDED_PARAMS = ("structured_outputs", "guided_choice")  # newest vLLM name first
GUIDED_MODES = ("auto", "off", *GUIDED_PARAMS)


def parse_choice(text: str, options: Sequence[str]) -> str | None:
    """The option a free-text answer names, or None.

    An exact match (after stripping) wins; else the option mentioned first,
    case-insensitively and as a whole word, so "no" is not found in "not";
    on a tie the longer option wins, so "10" beats "1".
    """
    stripped = text.strip()
    if stripped in options:
        return stripped
    lowered = text.lower()
    best: tuple[int, int] | None = None
    chosen = None
    for option in options:
        needle = option.strip().lower()
        if not needle:
            continue
        match = re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", lowered)
        if match and (best is None or (match.start(), -len(needle)) < best):
            best, chosen = (match.start(), -len(needle)), option
    return chosen


def choice_max_tokens(options: Sequence[str]) -> int:
    """Room for the longest option (a token is at least one byte) plus a few tokens of preamble."""
    return min(256, 8 + max(len(option.encode()) for option in options))


class GuidedChoice:
    """Which guided-choice parameter the server honours, learnt from its answers (thread-safe)."""

    def __init__(self, mode: str):
        if mode not in GUIDED_MODES:
            raise ValueError(f"guided must be one of {', '.join(GUIDED_MODES)}, not {mode!r}")
        self.forced = mode in GUIDED_PARAMS
        self._candidates = [] if mode == "off" else list(GUIDED_PARAMS if mode == "auto" else [mode])
        self._confirmed = self.forced
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
            self._confirmed = False
            log.info("guided choice: not using %r (%s); next: %s", param, why, self._candidates[:1] or "parsing")

    def answered(self, param: str | None, exact: bool) -> None:
        """An exact option confirms the parameter; free text means the server ignored it."""
        if param is None:
            return
        with self._lock:
            confirmed = self._confirmed
            if exact:
                self._confirmed = True
        if not exact and not confirmed:
            self.drop(param, "the server answered with free text")


def guided_fields(param: str | None, options: Sequence[str]) -> dict[str, Any]:
    """The request fields that ask for guided choice under ``param``'s name."""
    if param == "structured_outputs":
        return {"structured_outputs": {"choice": list(options)}}
    if param == "guided_choice":
        return {"guided_choice": list(options)}
    return {}


def continuation_ids(tokenizer: Any, prompt: str, prompt_ids: list[int], continuation: str) -> list[int]:
    """Token ids of ``continuation`` as the model would see it after ``prompt`` (whose ids are ``prompt_ids``)."""
    full = tokenizer(prompt + continuation).input_ids
    if full[: len(prompt_ids)] == prompt_ids and len(full) > len(prompt_ids):
        return full[len(prompt_ids):]
    ids = tokenizer(continuation, add_special_tokens=False).input_ids
    return ids or [tokenizer.unk_token_id or 0]
