"""Language-model access shared by all agents: requests, backends, cache and the service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentville.sim.core.errors import UserError

from .cache import MODES as CACHE_MODES
from .cache import CacheMiss, LLMCache
from .embeddings import HashEmbedder, MiniLMEmbedder, make_embedder
from .fake import FakeBackend
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
    request_key,
)
from .service import GenerationError, GenerationService

if TYPE_CHECKING:
    from agentville.sim.scenario.schema import GenerationSpec

BACKENDS = ("embedded", "transformers", "openai", "fake")


class ReplayOnlyBackend:
    """Stands in for a model during a read-only replay: every answer must come from the cache."""

    def __init__(self, model_id: str):
        self.model_id = model_id

    def submit(self, request: Request):
        raise GenerationError(f"read-only replay: model {self.model_id} is not loaded")

    def close(self) -> None:
        pass


def model_id_for(name: str, model: str | None) -> str:
    """The cache identity of a backend, computed without loading anything."""
    from .models import resolve

    if name == "fake":
        return FakeBackend.model_id
    if name == "openai":
        return f"openai:{model}"
    return resolve(None if name == "embedded" else model).model_id


def check_backend(name: str, model: str | None) -> str | None:
    """The model a backend will use, or a one-line error for an unknown backend or a missing model."""
    if name not in BACKENDS:
        raise UserError(f"--llm {name}: unknown backend (available: {', '.join(BACKENDS)})")
    if name in ("transformers", "openai") and not model:
        raise UserError(f"--llm {name} needs a model: pass --model or set generation.model in the scenario")
    return model


def make_backend(name: str, settings: GenerationSpec, *, model: str | None = None, base_urls: list[str] | None = None,
                 replay_only: bool = False) -> Backend:
    """Build the backend the CLI's ``--llm`` (or the scenario) names."""
    model = check_backend(name, model or settings.model)
    if replay_only:
        return ReplayOnlyBackend(model_id_for(name, model))
    if name == "fake":
        return FakeBackend()
    if name == "openai":
        from .openai_backend import BackendUnavailable, OpenAIBackend

        urls = base_urls or settings.base_urls
        if not urls:
            raise UserError("--llm openai needs a server: pass --base-url or set generation.base_urls")
        try:
            assert model is not None  # check_backend insists on one for openai
            return OpenAIBackend(model, urls, api_key_env=settings.api_key_env,
                                 max_concurrency=settings.max_concurrency, timeout_s=settings.timeout_s,
                                 retries=settings.retries)
        except BackendUnavailable as exc:
            raise UserError(str(exc)) from None
    from .transformers_backend import TransformersBackend

    return TransformersBackend(None if name == "embedded" else model)


__all__ = ["BACKENDS", "Backend", "CACHE_MODES", "CacheMiss", "ChoiceRequest", "Completion", "Embedder",
           "FakeBackend", "GenerationError", "GenerationFailed", "GenerationService", "HashEmbedder", "LLMCache",
           "MiniLMEmbedder", "ReplayOnlyBackend", "Request", "TextRequest", "derive_seed", "fallback_answer",
           "check_backend", "make_backend", "make_embedder", "model_id_for", "request_key"]
