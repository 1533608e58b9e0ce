"""Shapes from servers: the field that makes a server write an answer matching a request's regex.

Servers name regex-constrained generation differently: vLLM takes
``structured_outputs: {"regex": ...}`` (``guided_regex`` before), SGLang a
top-level ``regex``, and llama.cpp (among others) an OpenAI-style
``response_format`` JSON schema, here a string with the shape as its
``pattern`` (the answer is then a JSON string). As for choices
(``choices.GuidedChoice``), the backend tries the fields in that order and
learns from the answers: a field the server rejects by name (HTTP 400, 422),
or an answer that does not match the shape (a constrained server cannot write
one), rules it out; with none left, text is asked for free and parsed as
before. The learning is the backend's, apart from its choices': a server may
take a choice list and not a regex.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .choices import GuidedChoice

SHAPE_PARAMS = ("structured_outputs", "guided_regex", "regex", "response_format")


class GuidedShape(GuidedChoice):
    """Which shape field the server honours, learnt from its answers (``off``: none is sent)."""

    def __init__(self, mode: str):
        super().__init__("off" if mode == "off" else "auto")
        self._candidates = [] if mode == "off" else list(SHAPE_PARAMS)

    def read(self, param: str | None, text: str, shape: str, judge: bool = True) -> str:
        """The answer as text (decoded from JSON under ``response_format``), learning from it when ``judge``.

        An answer that does not match rules ``param`` out; one cut at the token
        limit (not ``judge``) proves nothing either way.
        """
        exact = shaped_answer(param, text, shape)
        if judge:
            self.answered(param, exact is not None)
        return text if exact is None else exact


def shape_fields(param: str | None, shape: str) -> dict[str, Any]:
    """The request fields that make the answer match ``shape`` (a regex) under ``param``'s name."""
    if param == "structured_outputs":
        return {"structured_outputs": {"regex": shape}}
    if param in ("guided_regex", "regex"):
        return {param: shape}
    if param == "response_format":
        schema = {"type": "string", "pattern": f"^(?:{shape})$"}
        return {"response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}}
    return {}


def shaped_answer(param: str | None, text: str, shape: str) -> str | None:
    """The answer as text when it matches ``shape`` (a JSON string decoded under ``response_format``), else None."""
    if param == "response_format":
        try:
            value = json.loads(text.strip(), strict=False)  # a pattern may put a raw line break in the string
        except ValueError:
            return None
        text = value if isinstance(value, str) else ""
    return text if re.fullmatch(shape, text) else None
