"""The generation service: the one door every agent's LLM request goes through.

It bridges simpy and the backends (docs/ARCHITECTURE.md, invariants 2 and 3):

* A request is submitted to the backend the moment an agent yields it, so the
  requests of all agents are in flight together and the backend can batch them.
* A call costs a fixed simulated time (``call_seconds``, default zero). Its
  answer is handed over by a ``Delivery`` (a simpy timeout) scheduled at
  submission, so answers reach agents in (due time, submission order) order,
  never in the order threads happen to finish.
* The driver blocks real time only when the simulated clock reaches a due
  answer that has not arrived yet, and never longer than ``wait_timeout_s``,
  stretched to the backend's ``patience_s`` (all its retries) when it has one,
  so a hung request is retried, not abandoned while the backend still works.
  An answer given up on is cancelled, so the backend drops the work.
* Every request carries a seed derived from the run seed, the agent and the
  agent's call count, so a rerun asks exactly the same questions, and the
  cache answers them.
* When a backend gives up, the scenario decides: use the request's logged
  fallback, or stop the run (the store keeps everything logged so far).
"""

from __future__ import annotations

import concurrent.futures
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import simpy

from agentville.sim.core.errors import GenerationError

from .cache import CacheMiss, LLMCache
from .requests import (
    Backend,
    ChoiceRequest,
    Completion,
    Embedder,
    GenerationFailed,
    Request,
    TextRequest,
    derive_seed,
    fallback_answer,
)

# (request, answer, wall-clock facts, simulated seconds when it was asked, simulated seconds when it was due)
CallLogger = Callable[[Request, Completion, dict[str, Any], float, float], None]
ON_FAILURE = ("fallback", "stop")
PATIENCE_MARGIN_S = 5.0  # past a backend's own patience, so its reason for giving up is the one logged
VECTORS_KEPT = 50_000  # embeddings remembered in memory (~75 MB at 384 dimensions)


class Delivery(simpy.Timeout):
    """The timeout that hands an answer over at its due time: what the service and a scheduler share.

    The answer itself waits in ``future``; an out-of-order scheduler
    (``sim/runtime/scheduler.py``) runs the delivery only once it is done, or
    blocks for it and counts the real seconds in ``waited_s``, which the
    delivery no longer waits.
    """

    def __init__(self, env: simpy.Environment, delay: float, future: concurrent.futures.Future[Completion]):
        self.future = future
        self.waited_s = 0.0
        super().__init__(env, delay)


class GenerationService:
    def __init__(self, backend: Backend, env: simpy.Environment, *, run_seed: int,
                 cache: LLMCache | None = None, embedder: Embedder | None = None,
                 call_seconds: float = 0.0, step_seconds: float = 0.0, temperature: float = 0.7, top_p: float = 1.0,
                 max_tokens: int = 64, wait_timeout_s: float = 600.0, on_failure: str = "fallback",
                 on_call: CallLogger | None = None):
        if on_failure not in ON_FAILURE:
            raise ValueError(f"on_failure must be one of {ON_FAILURE}")
        self.backend, self.env, self.cache, self.embedder = backend, env, cache, embedder
        self.run_seed, self.call_seconds, self.step_seconds = run_seed, call_seconds, step_seconds
        self.temperature, self.top_p, self.max_tokens = temperature, top_p, max_tokens
        patience = getattr(backend, "patience_s", None)
        self.wait_timeout_s = wait_timeout_s if patience is None else max(wait_timeout_s, patience + PATIENCE_MARGIN_S)
        self.on_failure, self.on_call = on_failure, on_call
        self.calls_by_agent: Counter[str | None] = Counter()
        self.blocked_s = 0.0
        self.waits = 0  # times the simulation stopped for an answer that had not arrived (rounds of waiting)
        self._vectors: dict[str, np.ndarray] = {}  # this run's embeddings, before the store's cache
        self.started = time.monotonic()  # wall clock origin of the logged submission times

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    # -- what agents call ---------------------------------------------------
    def text(self, prompt: str, *, purpose: str, agent: str | None = None, max_tokens: int | None = None,
             stop: tuple[str, ...] | list[str] = (), temperature: float | None = None,
             default: str | None = None, due: float | None = None, shape: str | None = None) -> simpy.Event:
        """A simpy event whose value is the generated text (``default`` is the logged fallback).

        ``due`` is the simulated second the answer is needed (see ``due_time``);
        ``shape`` a regex the answer must match where the backend can enforce it.
        """
        return self._submit(TextRequest(
            prompt=prompt, max_tokens=max_tokens or self.max_tokens, stop=tuple(stop),
            temperature=self.temperature if temperature is None else temperature, top_p=self.top_p,
            seed=self._next_seed(agent, purpose), purpose=purpose, agent=agent, default=default, shape=shape), due)

    def choice(self, prompt: str, options: list[str] | tuple[str, ...], *, purpose: str,
               agent: str | None = None, default: str | None = None, due: float | None = None) -> simpy.Event:
        """A simpy event whose value is exactly one of ``options`` (``due`` as for ``text``)."""
        if not options:
            raise ValueError("a choice needs at least one option")
        return self._submit(ChoiceRequest(prompt=prompt, options=tuple(options),
                                          seed=self._next_seed(agent, purpose), purpose=purpose, agent=agent,
                                          default=default), due)

    def due_time(self, due: float | None = None) -> float:
        """When an answer asked now is delivered, in simulated seconds.

        ``due`` (default: now), but never sooner than ``call_minutes`` after it
        is asked. With ``step_seconds`` set,
        answers arrive on the next step boundary after that (lock-step, like
        the reference's 10-second steps). A function of simulated time only,
        so the log does not depend on how fast the backend answers.
        """
        now = self.env.now
        at = max(now if due is None else due, now + self.call_seconds)
        if self.step_seconds > 0:
            boundary = math.ceil(at / self.step_seconds - 1e-9) * self.step_seconds
            at = boundary + self.step_seconds if boundary <= now else boundary
        return at

    def text_now(self, prompt: str, *, purpose: str, agent: str | None, seed_key: str, max_tokens: int | None = None,
                 stop: tuple[str, ...] = (), default: str | None = None) -> str:
        """Answer a text request right away, outside simulated time (interviews).

        The seed comes from ``seed_key``, not from the agent's call count, so
        asking leaves every later request of the run exactly as it was.
        """
        return self.answer_now([self.request_now(prompt, purpose=purpose, agent=agent, seed_key=seed_key,
                                                 max_tokens=max_tokens, stop=stop, default=default)])[0]

    def request_now(self, prompt: str, *, purpose: str, agent: str | None, seed_key: str,
                    max_tokens: int | None = None, stop: tuple[str, ...] = (), default: str | None = None
                    ) -> TextRequest:
        """A text request for ``answer_now``, seeded from ``seed_key`` (see ``text_now``)."""
        return TextRequest(prompt=prompt, max_tokens=max_tokens or self.max_tokens, stop=tuple(stop),
                           temperature=self.temperature, top_p=self.top_p,
                           seed=derive_seed(self.run_seed, agent, purpose, seed_key), purpose=purpose,
                           agent=agent, default=default)

    def choice_now(self, prompt: str, options: tuple[str, ...], *, purpose: str, agent: str | None, seed_key: str,
                   default: str | None = None) -> str:
        """A choice answered right away, outside simulated time (judging what agents know).

        Like ``text_now``: its seed comes from ``seed_key``, so asking changes nothing in the run.
        """
        request = ChoiceRequest(prompt=prompt, options=tuple(options),
                                seed=derive_seed(self.run_seed, agent, purpose, seed_key), purpose=purpose,
                                agent=agent, default=default)
        return self.answer_now([request])[0]

    def answer_now(self, requests: Sequence[Request]) -> list[str]:
        """Answer requests right away, outside simulated time; all are submitted before any is awaited.

        Submitting them together lets the backend batch them (``interview_all``).
        Answers are used and logged in the order of ``requests``.
        """
        submitted = time.monotonic()
        asked = []
        for request in requests:
            cached = self._cached(request)
            asked.append((request, cached, None if cached is not None else self.backend.submit(request)))
        answers = []
        for request, cached, future in asked:
            if cached is not None:
                completion = cached
            else:
                assert future is not None
                completion = self._outcome(request, future)
                if self.cache is not None:
                    self.cache.put(self.model_id, request, completion)
            if self.on_call is not None:
                self.on_call(request, completion, {"cache_hit": cached is not None, "retries": completion.retries,
                                                   "latency_s": round(time.monotonic() - submitted, 4),
                                                   "submitted_s": round(submitted - self.started, 4),
                                                   "ahead_s": 0.0},
                             self.env.now, self.env.now)
            answers.append(completion.text)
        return answers

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for ``texts`` (one row each), cached like every other model answer."""
        if self.embedder is None:
            raise GenerationError("no embedder configured for this simulation")
        known = {t: self._vectors[t] for t in texts if t in self._vectors}
        if len(known) < len(texts) and self.cache:
            known.update(self.cache.get_vectors(self.embedder.model_id, [t for t in texts if t not in known]))
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            if self.cache is not None and self.cache.mode == "read-only":
                raise GenerationError(f"read-only replay: {len(missing)} embeddings are not cached "
                                      f"(model {self.embedder.model_id})")
            vectors = self.embedder.embed(missing)
            known.update(zip(missing, vectors))
            if self.cache is not None:
                self.cache.put_vectors(self.embedder.model_id, missing, vectors)
        if len(self._vectors) > VECTORS_KEPT:
            self._vectors.clear()
        self._vectors.update(known)
        return np.stack([known[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)

    # -- plumbing ------------------------------------------------------------
    def _next_seed(self, agent: str | None, purpose: str) -> int:
        self.calls_by_agent[agent] += 1
        return derive_seed(self.run_seed, agent, purpose, self.calls_by_agent[agent])

    def _cached(self, request: Request) -> Completion | None:
        """The cached answer, if any (a read-only replay that misses stops the run with a clear error)."""
        try:
            return self.cache.get(self.model_id, request) if self.cache else None
        except CacheMiss as exc:
            raise GenerationError(str(exc)) from None

    def _outcome(self, request: Request, future: concurrent.futures.Future,
                 timeout: float | None = None) -> Completion:
        """Wait for a backend's answer; a timeout or failure becomes the request's fallback (or stops the run)."""
        try:
            return future.result(timeout=self.wait_timeout_s if timeout is None else timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()  # abandoned: the backend drops it instead of working on for nobody
            return self._failed(request, f"no answer within {self.wait_timeout_s:.0f} s", retries=0)
        except GenerationFailed as exc:
            return self._failed(request, str(exc), retries=exc.retries, faults=exc.faults, raw=exc.raw)
        except GenerationError:  # a read-only replay missed an answer that is needed: the run stops
            raise
        except Exception as exc:  # a backend bug must still name the request it hit
            return self._failed(request, f"{type(exc).__name__}: {exc}", retries=0)

    def _submit(self, request: Request, due: float | None = None) -> simpy.Event:
        submitted = time.monotonic()
        asked, at = self.env.now, self.due_time(due)
        future: concurrent.futures.Future[Completion] = concurrent.futures.Future()
        try:
            cached = self._cached(request)
        except GenerationError as miss:  # stops the run when the answer is needed, not before: a run that
            cached = None  # ended before it was due never needed it (nor cached it)
            future.set_exception(miss)
        if cached is not None:
            future.set_result(cached)
        elif not future.done():
            future = self.backend.submit(request)
        finished: list[float] = []
        future.add_done_callback(lambda _: finished.append(time.monotonic()))
        answer = self.env.event()
        delivery = Delivery(self.env, at - asked, future)
        safe = getattr(self.env, "safe_time", None)
        ahead = 0.0 if safe is None else max(0.0, asked - safe)  # how far its area ran ahead of the slowest
        delivery.callbacks.append(lambda _: self._deliver(request, future, answer, submitted, finished,
                                                          cache_hit=cached is not None, asked=asked, ahead=ahead,
                                                          waited=delivery.waited_s))
        return answer

    def _deliver(self, request: Request, future: concurrent.futures.Future, answer: simpy.Event,
                 submitted: float, finished: list[float], cache_hit: bool, asked: float, ahead: float,
                 waited: float) -> None:
        """Hand the answer over at its due time; ``waited``: seconds a scheduler already waited for it."""
        waited_from = time.monotonic()
        if not future.done():
            self.waits += 1
        completion = self._outcome(request, future, max(0.0, self.wait_timeout_s - waited))
        blocked = time.monotonic() - waited_from
        self.blocked_s += blocked
        if self.cache is not None and not cache_hit:
            self.cache.put(self.model_id, request, completion)
        if self.on_call is not None:
            latency = (finished[0] if finished else time.monotonic()) - submitted
            wall = {"cache_hit": cache_hit, "retries": completion.retries, "latency_s": round(latency, 4),
                    "blocked_s": round(blocked, 4), "submitted_s": round(submitted - self.started, 4),
                    "ahead_s": round(ahead, 3), **{k: v for k, v in completion.info.items() if k != "scores"}}
            if completion.info.get("error"):
                wall["error"] = completion.info["error"]
            self.on_call(request, completion, wall, asked, self.env.now)
        answer.succeed(completion.text)

    def _failed(self, request: Request, reason: str, retries: int, faults: Sequence[str] = (),
                raw: str | None = None) -> Completion:
        who = request.agent or "the engine"
        if self.on_failure == "stop":
            raise GenerationError(f"{self.model_id}: the '{request.purpose}' request of {who} failed: {reason}")
        info = {"error": reason, "faults": list(faults)} if faults else {"error": reason}
        return Completion(fallback_answer(request), fallback=True, retries=retries, info=info, raw=raw)
