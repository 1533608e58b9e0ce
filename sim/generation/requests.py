"""What agents ask the language model for, and what comes back.

Two kinds of request cover every need of the cognitive loop (after
Concordia's sample_text / sample_choice): free text, and a choice among fixed
options (yes/no, a 1-10 rating, a place). Choices exist as their own kind so a
backend can answer them without parsing (constrained decoding, option scoring
or a server's guided choice).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy


@dataclass(frozen=True)
class TextRequest:
    prompt: str
    max_tokens: int = 64
    stop: tuple[str, ...] = ()
    temperature: float = 0.7
    top_p: float = 1.0
    seed: int = 0
    purpose: str = "text"
    agent: str | None = None
    default: str | None = None  # the logged fallback when no model answer can be had
    shape: str | None = None  # a regex the whole answer must match, where the backend can enforce one


@dataclass(frozen=True)
class ChoiceRequest:
    prompt: str
    options: tuple[str, ...]
    seed: int = 0
    purpose: str = "choice"
    agent: str | None = None
    default: str | None = None


Request = TextRequest | ChoiceRequest


@dataclass(frozen=True)
class Completion:
    """A backend's answer. For a choice, ``text`` is exactly one of the options.

    ``raw`` is what the model said behind a choice, before it became an option
    (a server's free text; an in-process backend's top option scores), so a
    user can see why a rating came out as it did. It is cached with the answer
    and logged; None when there is nothing to show (a plain fallback).
    """

    text: str
    prompt_tokens: int = 0
    output_tokens: int = 0
    fallback: bool = False
    retries: int = 0
    info: dict = field(default_factory=dict)
    raw: str | None = None


def request_key(model: str, request: Request) -> str:
    """Content address of a request: (model, prompt, parameters, seed).

    Purpose, agent and default are labels, not inputs of the model, so they are
    left out: two agents asking the same thing with the same seed get the same
    answer. A shape is an input when there is one; without one the key is what
    it was before shapes existed, so cached answers stay valid.
    """
    fields = asdict(request)
    for label in ("purpose", "agent", "default"):
        fields.pop(label)
    if fields.get("shape", "") is None:
        fields.pop("shape")
    fields["kind"] = type(request).__name__
    fields["model"] = model
    blob = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def derive_seed(*parts: object) -> int:
    """A stable 31-bit seed from any parts (run seed, agent, call number...)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class GenerationFailed(RuntimeError):
    """A backend gave up on a request after its retry budget.

    The generation service decides what happens next: use the request's
    fallback (logged as such) or stop the run cleanly, as the scenario says.
    """

    def __init__(self, message: str, retries: int = 0, faults: list[str] | None = None, raw: str | None = None):
        super().__init__(message)
        self.retries = retries
        self.faults = faults or []  # why each attempt failed, for the log
        self.raw = raw  # the last unparseable answer, if the model said something: the fallback's ``raw``


def fallback_answer(request: Request) -> str:
    """The logged default used when no model answer can be had."""
    if isinstance(request, ChoiceRequest):
        return request.default if request.default in request.options else request.options[0]
    return request.default or ""


@dataclass(frozen=True)
class Traits:
    """What a backend's answers are like, for the code around it to plan by.

    A backend declares them as a ``traits`` attribute; one that declares none
    is a real model (``traits_of``). Code asks these, never a backend's name
    or class, so a new backend is told apart by what it says of itself.
    """

    instant: bool = False  # answered as soon as asked: nothing to overlap, so running in order is cheaper
    understands: bool = True  # answers follow the prompt's meaning; a rule-based double's are not worth judging by
    embedder: str = "minilm"  # the embedder that goes with it where the scenario names none


REAL_MODEL = Traits()


def traits_of(backend: object) -> Traits:
    """The traits a backend declares, or a real model's."""
    return getattr(backend, "traits", REAL_MODEL)


class Backend(Protocol):
    """Anything that turns requests into completions, asynchronously.

    ``model_id`` must be known without loading the model: it is part of every
    cache key, so a read-only replay can run without the model.
    ``submit`` never blocks for long; the future raises GenerationFailed when
    the backend gives up. ``Completion.info`` carries wall-clock facts
    (``queue_wait_s``, ``batch_size``...) that are logged apart from the
    deterministic event data. A backend may declare ``traits`` (``Traits``).
    """

    model_id: str

    def submit(self, request: Request) -> concurrent.futures.Future[Completion]: ...

    def close(self) -> None: ...


class Embedder(Protocol):
    """Turns texts into unit-length vectors (rows of a float32 array)."""

    model_id: str

    def embed(self, texts: list[str]) -> numpy.ndarray: ...
