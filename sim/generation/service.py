"""The generation service: the one door every agent's LLM request goes through.

It bridges simpy and the backends (DESIGN.md, invariants 2 and 3):

* A request is submitted to the backend the moment an agent yields it, so the
  requests of all agents are in flight together and the backend can batch them.
* A call costs a fixed simulated time (``call_seconds``, default zero). Its
  answer is delivered by a simpy timeout scheduled at submission, so answers
  reach agents in (due time, submission order) order, never in the order
  threads happen to finish.
* The driver blocks real time only when the simulated clock reaches a due
  answer that has not arrived yet.
* Every request carries a seed derived from the run seed, the agent and the
  agent's call count, so a rerun asks exactly the same questions.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections import Counter
from typing import Any, Callable

import simpy

from .requests import Backend, ChoiceRequest, Completion, Request, TextRequest, derive_seed

CallLogger = Callable[[Request, Completion, dict[str, Any]], None]


class GenerationError(RuntimeError):
    """A request could not be answered; the run stops with a clear message."""


class GenerationService:
    def __init__(self, backend: Backend, env: simpy.Environment, *, run_seed: int,
                 call_seconds: float = 0.0, temperature: float = 0.7, top_p: float = 1.0,
                 max_tokens: int = 64, wait_timeout_s: float = 600.0, on_call: CallLogger | None = None):
        self.backend, self.env = backend, env
        self.run_seed, self.call_seconds = run_seed, call_seconds
        self.temperature, self.top_p, self.max_tokens = temperature, top_p, max_tokens
        self.wait_timeout_s = wait_timeout_s
        self.on_call = on_call
        self.calls_by_agent: Counter[str | None] = Counter()
        self.blocked_s = 0.0

    def text(self, prompt: str, *, purpose: str, agent: str | None = None, max_tokens: int | None = None,
             stop: tuple[str, ...] | list[str] = (), temperature: float | None = None,
             default: str | None = None) -> simpy.Event:
        """A simpy event whose value is the generated text (``default`` is the fallback)."""
        return self._submit(TextRequest(
            prompt=prompt, max_tokens=max_tokens or self.max_tokens, stop=tuple(stop),
            temperature=self.temperature if temperature is None else temperature, top_p=self.top_p,
            seed=self._next_seed(agent, purpose), purpose=purpose, agent=agent, default=default))

    def choice(self, prompt: str, options: list[str] | tuple[str, ...], *, purpose: str,
               agent: str | None = None, default: str | None = None) -> simpy.Event:
        """A simpy event whose value is exactly one of ``options``."""
        if not options:
            raise ValueError("a choice needs at least one option")
        return self._submit(ChoiceRequest(prompt=prompt, options=tuple(options),
                                          seed=self._next_seed(agent, purpose), purpose=purpose, agent=agent,
                                          default=default))

    def _next_seed(self, agent: str | None, purpose: str) -> int:
        self.calls_by_agent[agent] += 1
        return derive_seed(self.run_seed, agent, purpose, self.calls_by_agent[agent])

    def _submit(self, request: Request) -> simpy.Event:
        submitted = time.monotonic()
        future = self.backend.submit(request)
        finished: list[float] = []
        future.add_done_callback(lambda _: finished.append(time.monotonic()))
        answer = self.env.event()
        due = self.env.timeout(self.call_seconds)
        due.callbacks.append(lambda _: self._deliver(request, future, answer, submitted, finished))
        return answer

    def _deliver(self, request: Request, future: concurrent.futures.Future, answer: simpy.Event,
                 submitted: float, finished: list[float]) -> None:
        waited_from = time.monotonic()
        try:
            completion = future.result(timeout=self.wait_timeout_s)
        except concurrent.futures.TimeoutError:
            raise GenerationError(
                f"{self.backend.model_id}: no answer to a '{request.purpose}' request"
                f" of {request.agent or 'the engine'} within {self.wait_timeout_s:.0f} s") from None
        except Exception as exc:  # a backend fault must name the request that hit it
            raise GenerationError(
                f"{self.backend.model_id}: '{request.purpose}' request of {request.agent or 'the engine'}"
                f" failed: {exc}") from exc
        blocked = time.monotonic() - waited_from
        self.blocked_s += blocked
        if self.on_call is not None:
            latency = (finished[0] if finished else time.monotonic()) - submitted
            self.on_call(request, completion, {"latency_s": round(latency, 4), "blocked_s": round(blocked, 4)})
        answer.succeed(completion.text)
