"""Asking the model for text that must parse, with retries and a logged fallback.

Small local models do not always follow a format. Every free-text answer is
therefore checked by a parser; an answer that does not parse is logged
(``parse_failed``) and the question asked again with a fresh seed; when the
retries are spent the agent uses its own plain answer, and the log says so
(``fallback``). The plain answer is also the request's ``default``, so the
fake test backend and a failing backend both land on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from agentville.sim.core import events

from .templates import copied_from_example

if TYPE_CHECKING:
    from agentville.sim.context import SubProcess
    from agentville.sim.context.protocols import AgentContext

T = TypeVar("T")
RETRIES = 1
LIST_END = ("\n\n",)  # a blank line ends every list the prompts ask for
CUT_SHARE = 0.6  # a list answer using this share of its token limit may have been cut off (``whole_lines``)
_TOKENS = re.compile(r"\d|[^\W\d_]+|[^\w\s]|\n")


class Unparseable(ValueError):
    """The model's answer is not in the expected shape; the message says why."""


def ask(ctx: AgentContext, agent: str, prompt: str, parse: Callable[[str], T], *, purpose: str, default: str,
        max_tokens: int, stop: tuple[str, ...] = (), prefix: str = "", retries: int = RETRIES,
        check: Callable[[T], None] | None = None, joiner: str = "", due: float | None = None,
        fallback: str | None = None, listing: bool = False, shape: str | None = None) -> SubProcess[T]:
    """A simpy sub-process returning ``parse(prefix + answer)``.

    ``prefix`` is text the prompt already ends with (``"1."``, a time), so the
    parser sees the answer as one piece; ``joiner`` goes between them (a line
    break after a whole prefilled line: backends strip the answer's leading
    whitespace). ``default`` must parse. ``check``
    vets the model's parsed answers only (it raises ``Unparseable``), for
    faults the plain answer cannot have, such as repeating the prompt's example.
    ``due`` is when the answer is needed (a retry is due at once). ``fallback``
    (default: ``default``) is what stands when the retries are spent: a revision
    offers a change as its plain answer, but falls back on the plan as it was.
    A ``listing`` answer is a list, one item a line: see ``whole_lines``.
    ``shape`` is a regex the answer must match (``shapes``), for backends that
    can generate under one; the answer is parsed all the same.
    """
    for attempt in range(retries + 1):
        answer = yield ctx.llm.text(prompt, purpose=purpose, agent=agent, max_tokens=max_tokens, stop=stop,
                                    default=default, due=due, shape=shape)
        text = whole_lines(answer, max_tokens) if listing and answer != default else answer
        try:
            result = parse(prefix + joiner + text.lstrip("\n") if joiner else prefix + text)
            if check is not None and answer != default:
                check(result)
            return result
        except Unparseable as exc:
            ctx.log(events.PARSE_FAILED, agent, purpose=purpose, output=answer, reason=str(exc), attempt=attempt + 1)
    kept = default if fallback is None else fallback
    ctx.log(events.FALLBACK, agent, purpose=purpose, value=kept)
    return parse(prefix + joiner + kept.lstrip("\n") if joiner else prefix + kept)


def whole_lines(answer: str, max_tokens: int) -> str:
    """A list answer without its last line when that line may have been cut off at ``max_tokens``.

    The caller cannot see why generation stopped: a list that ended by itself
    loses its closing blank line to the stop sequence, just as a cut one ends
    mid-item ("stands at the counter unti"). So a last line with no line break
    after it is dropped when the answer is long enough to have hit the limit.
    ``_TOKENS`` undercounts a tokenizer's pieces (each digit, word and sign is
    at least one), so the estimate errs towards keeping complete answers whole.
    """
    if answer.endswith("\n") or len(_TOKENS.findall(answer)) < CUT_SHARE * max_tokens:
        return answer
    return answer[: answer.rfind("\n") + 1]

def not_copied(template_name: str) -> Callable[[Sequence[str | tuple[str, int]]], None]:
    """A check refusing answers whose items mostly repeat the template's worked example."""
    def check(items: Sequence[str | tuple[str, int]]) -> None:
        if copied_from_example([i if isinstance(i, str) else i[0] for i in items], template_name):
            raise Unparseable("the answer repeats the prompt's example")
    return check
