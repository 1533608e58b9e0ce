"""Asking the model for text that must parse, with retries and a logged fallback.

Small local models do not always follow a format. Every free-text answer is
therefore checked by a parser; an answer that does not parse is logged
(``parse_failed``) and the question asked again with a fresh seed; when the
retries are spent the agent uses its own plain answer, and the log says so
(``fallback``). The plain answer is also the request's ``default``, so the
fake test backend and a failing backend both land on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from agentville.sim import events

if TYPE_CHECKING:
    from agentville.sim.context import AgentContext

    from .protocols import SubProcess

T = TypeVar("T")
RETRIES = 1
LIST_END = ("\n\n",)  # a blank line ends every list the prompts ask for


class Unparseable(ValueError):
    """The model's answer is not in the expected shape; the message says why."""


def ask(ctx: AgentContext, agent: str, prompt: str, parse: Callable[[str], T], *, purpose: str, default: str,
        max_tokens: int, stop: tuple[str, ...] = (), prefix: str = "", retries: int = RETRIES,
        check: Callable[[T], None] | None = None, joiner: str = "", due: float | None = None) -> SubProcess[T]:
    """A simpy sub-process returning ``parse(prefix + answer)``.

    ``prefix`` is text the prompt already ends with (``"1."``, a time), so the
    parser sees the answer as one piece; ``joiner`` goes between them (a line
    break after a whole prefilled line: backends strip the answer's leading
    whitespace). ``default`` must parse. ``check``
    vets the model's parsed answers only (it raises ``Unparseable``), for
    faults the plain answer cannot have, such as repeating the prompt's example.
    ``due`` is when the answer is needed (a retry is due at once).
    """
    for attempt in range(retries + 1):
        answer = yield ctx.llm.text(prompt, purpose=purpose, agent=agent, max_tokens=max_tokens, stop=stop,
                                    default=default, due=due)
        try:
            result = parse(prefix + joiner + answer.lstrip("\n") if joiner else prefix + answer)
            if check is not None and answer != default:
                check(result)
            return result
        except Unparseable as exc:
            ctx.log(events.PARSE_FAILED, agent, purpose=purpose, output=answer, reason=str(exc), attempt=attempt + 1)
    ctx.log(events.FALLBACK, agent, purpose=purpose, value=default)
    return parse(prefix + joiner + default.lstrip("\n") if joiner else prefix + default)
