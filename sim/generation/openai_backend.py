"""A backend for any OpenAI-compatible server (vLLM, SGLang, llama.cpp, ``transformers serve``).

This is how a simulation outgrows one machine: requests go over HTTP to one or
more replicas serving the same model. The prompts are completion-style (the
default models are base models), so text goes to ``POST /v1/completions``.

Choices use whatever the server offers to restrict an answer to the options (``choices.py``),
text with a shape whatever makes it match a regex (``guided_shapes.py``). Servers ignore fields
they do not know or reject them (HTTP 400, 422), so in ``guided="auto"`` mode the backend tries
each in turn and drops one the server rejects or answers outside of (the sign it was ignored).
Every answer is parsed all the same (a choice's first line to an option, kept as its ``raw``
text), so an unguided server still works.

Each request goes to the replica that serves its agent, so that replica's prefix cache holds the
agent's prompts (``routing``; ``routing="round-robin"`` takes turns instead). Faults (timeouts,
HTTP 5xx and 429, dropped connections, unreadable bodies) are retried with exponential backoff on
the next replica; other client errors fail at once. At the start, replicas
that cannot be reached are dropped with a warning (``replicas``). The service waits out every retry
(``patience_s``); a request it gives up on is cancelled, and no further attempt is made for it.
The API key is only ever put in the request header, of requests to the servers the user named
(``endpoints``); answers are redacted of it before an agent sees them.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from agentville.sim.core import secrets

from .choices import (
    CHOICE_STOP,
    GUIDED_PARAMS,
    GuidedChoice,
    choice_max_tokens,
    guided_answer,
    guided_fields,
    parse_choice,
)
from .decoding import apply_stops
from .endpoints import DEFAULT_KEY_ENV, Server, normalise_base_url, server
from .guided_shapes import GuidedShape, shape_fields
from .replicas import HEALTH_TIMEOUT_S, BackendUnavailable, describe, reachable_replicas, redact
from .requests import ChoiceRequest, Completion, GenerationFailed, Request, TextRequest, derive_seed
from .routing import Router
from .wire import WireFault, answer_cap, attempt_deadline, deadline_client, fetch

__all__ = ["BackendUnavailable", "OpenAIBackend", "normalise_base_url"]

log = logging.getLogger(__name__)

CHOICE_TEMPERATURE = 0.7  # sampled, so a retry with another seed can give a parsable answer
MAX_BACKOFF_S = 8.0
_RETRYABLE_STATUS = {408, 429}


class _Fault(Exception):
    """A failed attempt worth another one: the server or network may recover, or a new sample may parse."""

    def __init__(self, reason: str, backoff: bool = True, raw: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.backoff = backoff  # wait before the next attempt: a server fault, not a bad sample
        self.raw = raw  # what the model said, when it named no option


class _Rejected(Exception):
    """The server refused the request as invalid (HTTP 4xx): retrying cannot help."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass
class _Answer:
    text: str
    prompt_tokens: int
    output_tokens: int
    raw: str | None = None  # a choice's answer as the server wrote it
    cut: bool = False  # stopped at max_tokens: a shaped answer cut short says nothing of the shape field


class OpenAIBackend:
    """Requests to OpenAI-compatible replicas, on a bounded pool of worker threads."""

    def __init__(self, model: str, base_urls: Sequence[str | Server] | str, *, api_key_env: str = DEFAULT_KEY_ENV,
                 max_concurrency: int = 8, timeout_s: float = 60, retries: int = 4, backoff_s: float = 0.5,
                 max_backoff_s: float = MAX_BACKOFF_S, guided: str = "auto", routing: str = "agent",
                 check: bool = True):
        if isinstance(base_urls, str):
            base_urls = [base_urls]
        if not base_urls:
            raise ValueError("the OpenAI backend needs at least one base URL")
        if max_concurrency < 1 or retries < 0 or timeout_s <= 0:
            raise ValueError("max_concurrency must be >= 1, retries >= 0 and timeout_s > 0")
        self.model = model
        self.model_id = f"openai:{model}"  # not the URLs: replicas serve the same model
        key = os.environ.get(api_key_env) or None  # for the URLs given as text: the caller named them
        self._replicas = [url if isinstance(url, Server) else server(url, key) for url in base_urls]
        self.timeout_s, self.retries = float(timeout_s), int(retries)
        self.backoff_s, self.max_backoff_s = float(backoff_s), float(max_backoff_s)
        self._guided = GuidedChoice(guided)
        self._shaped = GuidedShape(guided)  # regexes: learnt apart from choices (``guided_shapes``)
        self._router = Router(routing)  # which replica first: the agent's (``routing``)
        self._open_lock = threading.Lock()  # guards the two sets below
        self._open: set[concurrent.futures.Future[Completion]] = set()  # submitted, not yet settled
        self._started: set[concurrent.futures.Future[Completion]] = set()  # of those, the ones being worked on
        self._closed = threading.Event()
        self._client = deadline_client(self.timeout_s, max_connections=max_concurrency)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_concurrency, thread_name_prefix="openai-backend")
        if check:
            try:
                self.health_check()
            except BaseException:
                self.close()
                raise

    @property
    def base_urls(self) -> list[str]:
        """The replicas' URLs as logged: without credentials or query."""
        return [replica.url for replica in self._replicas]

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_urls={self.base_urls!r})"

    def __enter__(self) -> OpenAIBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----- the Backend protocol -----

    @property
    def patience_s(self) -> float:
        """The longest a request can take once started: each attempt's deadline, and the waits between rounds.

        The service waits that long, so a hung request is retried, not given up while the backend works on it."""
        rounds = self.retries // len(self._replicas)  # a wait before each full round after the first
        return (self.retries + 1) * self.timeout_s + sum(self._backoff(waits) for waits in range(rounds))

    def submit(self, request: Request) -> concurrent.futures.Future[Completion]:
        """Queue the request; the future raises GenerationFailed when the backend gives up.

        Cancelling the future abandons the request: if queued it is never
        sent, and if on the wire no further attempt is made.
        """
        outcome: concurrent.futures.Future[Completion] = concurrent.futures.Future()
        if self._closed.is_set():
            outcome.set_exception(GenerationFailed("the OpenAI backend is closed"))
            return outcome
        with self._open_lock:
            self._open.add(outcome)
        self._pool.submit(self._serve, request, outcome, time.monotonic())
        return outcome

    def close(self) -> None:
        """Cancel queued requests, wake the ones backing off, and close the connections.

        It does not wait: a request already on the wire fails with
        GenerationFailed when its answer or its timeout comes.
        """
        if self._closed.is_set():
            return
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._open_lock:
            queued = [outcome for outcome in self._open if outcome not in self._started]
        for outcome in queued:
            outcome.cancel()
        self._client.close()

    # ----- health -----

    def health_check(self) -> None:
        """Keep the replicas that answer (the others are logged and dropped); one clear line when none does."""
        self._replicas = reachable_replicas(self._client, self._replicas, self.model,
                                            min(self.timeout_s, HEALTH_TIMEOUT_S))

    # ----- one request, with retries -----

    def _serve(self, request: Request, outcome: concurrent.futures.Future[Completion], submitted: float) -> None:
        """Answer one request into ``outcome``, unless it was abandoned while queued."""
        with self._open_lock:
            if outcome.cancelled():
                self._open.discard(outcome)
                return
            self._started.add(outcome)
        try:
            result = self._answer(request, submitted, outcome)
        except BaseException as exc:
            _settle(outcome, exception=exc)
        else:
            _settle(outcome, result)
        finally:
            with self._open_lock:
                self._open.discard(outcome)
                self._started.discard(outcome)

    def _answer(self, request: Request, submitted: float,
                outcome: concurrent.futures.Future[Completion] | None = None) -> Completion:
        """Try until an answer comes, a request is refused, the retry budget is spent or the asker gives up."""
        started = time.monotonic()
        order = self._router.order(self.base_urls, request.agent, request.prompt)  # retries go down it
        waits = bad_samples = 0
        fault: _Fault | None = None
        said: str | None = None  # the last answer that named no option: the fallback's raw text
        faults: list[str] = []  # why each failed attempt failed: logged with the answer (wall), seen in stats
        for attempt in range(self.retries + 1):
            if fault is not None and fault.backoff and attempt % len(self._replicas) == 0:
                self._closed.wait(self._backoff(waits))  # every replica failed this round: give them time
                waits += 1
            self._give_up_if_closed(attempt)
            if outcome is not None and outcome.cancelled():
                raise GenerationFailed(f"abandoned by the asker after {attempt} attempts", attempt, faults, said)
            replica = self._replicas[order[attempt % len(order)]]
            base = replica.url
            seed = request.seed if bad_samples == 0 else derive_seed(request.seed, "resample", bad_samples)
            try:
                with self._router.attempt(base):
                    answer, info = self._attempt(request, replica, seed)
            except _Fault as caught:
                fault = caught
                faults.append(redact(caught.reason, replica.key))
                if not caught.backoff:
                    bad_samples += 1  # the answer named no option: sample again with a new seed
                said = caught.raw if caught.raw and caught.raw.strip() else said
                log.debug("attempt %d of a %s request failed: %s", attempt + 1, request.purpose, faults[-1])
                continue
            except _Rejected as rejected:
                raise GenerationFailed(redact(f"the server at {base} refused a {request.purpose} request "
                                              f"(HTTP {rejected.status}): {rejected.detail}", replica.key),
                                       attempt, faults, said) from None
            except Exception:
                self._give_up_if_closed(attempt)  # closing the client breaks requests in flight
                raise
            info.update(queue_wait_s=started - submitted, latency_s=time.monotonic() - started, replica=base)
            if faults:
                info["faults"] = faults
            # a server that echoes the key into its answer does not hand it to an agent (its memories, its lines)
            raw = None if answer.raw is None else secrets.redact(answer.raw)
            return Completion(secrets.redact(answer.text), answer.prompt_tokens, answer.output_tokens,
                              retries=attempt, info=info, raw=raw)
        reason = fault.reason if fault else "no attempt"
        raise GenerationFailed(redact(f"gave up on a {request.purpose} request after {self.retries + 1} attempts: "
                                      f"{reason}", None), self.retries, faults, said)

    def _backoff(self, waits_before: int) -> float:
        """Exponential backoff, capped; a bad sample is retried at once with a new seed instead."""
        return min(self.backoff_s * 2 ** waits_before, self.max_backoff_s)

    def _give_up_if_closed(self, attempt: int) -> None:
        if self._closed.is_set():
            raise GenerationFailed("the OpenAI backend was closed before the request was answered", attempt)

    def _attempt(self, request: Request, replica: Server, seed: int) -> tuple[_Answer, dict[str, Any]]:
        with attempt_deadline(self.timeout_s):  # connecting, sending, waiting, reading, guided retries: one clock
            if isinstance(request, TextRequest):
                return self._text(request, replica, seed), {}
            if isinstance(request, ChoiceRequest):
                return self._choice(request, replica, seed)
        raise TypeError(f"the OpenAI backend cannot answer a {type(request).__name__}")

    def _text(self, request: TextRequest, replica: Server, seed: int) -> _Answer:
        body: dict[str, Any] = {"model": self.model, "prompt": request.prompt, "max_tokens": request.max_tokens,
                                "temperature": request.temperature, "top_p": request.top_p, "seed": seed}
        if request.stop:
            body["stop"] = list(request.stop)
        shape = request.shape  # a regex to match: asked like a choice's options (``guided_shapes``)
        answer, param = (self._post(replica, body), None) if shape is None else self._post_guided(
            replica, body, self._shaped, lambda p: shape_fields(p, shape))
        answer.text = apply_stops(answer.text, tuple(request.stop))[0]  # some servers keep the stop string
        if shape is not None:  # a server that ignored the field answered free text: parsed as any other
            answer.text = self._shaped.read(param, answer.text, shape, judge=not answer.cut)
        if not answer.text.strip():
            raise _Fault(f"an empty answer from {replica.url}", backoff=False)  # sample again, with a new seed
        return answer

    def _choice(self, request: ChoiceRequest, replica: Server, seed: int) -> tuple[_Answer, dict[str, Any]]:
        """Ask with a constraint when the server takes one; parse the answer to an option either way."""
        body: dict[str, Any] = {"model": self.model, "prompt": request.prompt, "seed": seed,
                                "max_tokens": choice_max_tokens(request.options), "temperature": CHOICE_TEMPERATURE}
        answer, param = self._post_guided(replica, body, self._guided, lambda p: guided_fields(p, request.options))
        line = apply_stops(answer.text.lstrip(), CHOICE_STOP)[0]  # the next lines go on with the prompt
        exact = guided_answer(param, line, request.options)
        self._guided.answered(param, exact is not None)
        option = exact or parse_choice(line, request.options)
        if option is None:
            raise _Fault(f"the answer {redact(answer.text, replica.key, 80)!r} names none of the options",
                         backoff=False, raw=answer.text)
        answer.raw, answer.text = answer.text, option
        return answer, {"guided": param if exact is not None else None}

    def _post_guided(self, replica: Server, body: dict[str, Any], guided: GuidedChoice,
                     fields: Callable[[str | None], dict[str, Any]]) -> tuple[_Answer, str | None]:
        """POST with the constraint field ``guided`` offers now, dropping each one the server refuses by name."""
        for _ in range(len(GUIDED_PARAMS) + 1):  # each rejected parameter name is dropped, so this ends
            param = guided.current()
            try:
                return self._post(replica, body | fields(param)), param
            except _Rejected as rejected:
                if param is None or param not in rejected.detail or guided.forced:
                    raise
                guided.drop(param, f"HTTP {rejected.status}")
        raise _Fault("the server kept refusing guided fields")

    def _post(self, replica: Server, body: dict[str, Any]) -> _Answer:
        """One POST /v1/completions, read within the deadline and a byte cap; faults: _Fault, refusals: _Rejected."""
        base, key = replica.url, replica.key
        try:
            status, said = fetch(self._client, "POST", f"{base}/completions", cap=answer_cap(body["max_tokens"]),
                                 json=body, **replica.sends)
        except httpx.TransportError as exc:  # refused, dropped, reset...
            raise _Fault(f"{describe(exc, key)} at {base}") from None
        except WireFault as exc:  # past the deadline, too large, inflating too far, an encoding not asked for
            raise _Fault(exc.reason) from None
        if status >= 500 or status in _RETRYABLE_STATUS:
            raise _Fault(f"HTTP {status} from {base}")
        if status >= 400:
            raise _Rejected(status, redact(said, key, 300).strip())
        try:
            return _read_answer(json.loads(said))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise _Fault(f"unreadable answer from {base}: {redact(said, key, 80)!r}") from None


def _read_answer(data: Any) -> _Answer:
    """A completion's text and token counts, or TypeError when the text is not a string.

    A server that answers ``"text": null`` (or an object, a number) has not answered: taking
    ``str(None)`` for the text would hand an agent the word "None". It is a fault, asked again.
    """
    text = data["choices"][0]["text"]
    if not isinstance(text, str):
        raise TypeError(f"a completion's text is a string, not {type(text).__name__}")
    usage = data.get("usage") or {}
    return _Answer(text, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
                   cut=data["choices"][0].get("finish_reason") == "length")


def _settle(outcome: concurrent.futures.Future[Completion], result: Completion | None = None, *,
            exception: BaseException | None = None) -> None:
    """Give ``outcome`` its result, unless the asker cancelled it meanwhile (then nobody is waiting)."""
    try:
        if exception is not None:
            outcome.set_exception(exception)
        else:
            outcome.set_result(result)  # type: ignore[arg-type]
    except concurrent.futures.InvalidStateError:
        pass
