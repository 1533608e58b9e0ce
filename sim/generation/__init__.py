"""Language-model access shared by all agents: requests, backends, cache and the service."""

from __future__ import annotations

from .cache import MODES as CACHE_MODES
from .cache import CacheMiss, LLMCache
from .embeddings import HashEmbedder, MiniLMEmbedder, make_embedder
from .fake import FakeBackend
from .registry import (
    BACKENDS,
    KINDS,
    BackendKind,
    ReplayOnlyBackend,
    backend_for_model,
    backend_kind,
    check_backend,
    make_backend,
    model_id_for,
    register,
    unregister,
)
from .requests import (
    Backend,
    ChoiceRequest,
    Completion,
    Embedder,
    GenerationFailed,
    Request,
    TextRequest,
    Traits,
    derive_seed,
    fallback_answer,
    request_key,
    traits_of,
)
from .service import GenerationError, GenerationService

__all__ = ["BACKENDS", "KINDS", "Backend", "BackendKind", "CACHE_MODES", "CacheMiss", "ChoiceRequest",
           "Completion", "Embedder", "FakeBackend", "GenerationError", "GenerationFailed", "GenerationService",
           "HashEmbedder", "LLMCache", "MiniLMEmbedder", "ReplayOnlyBackend", "Request", "TextRequest", "Traits",
           "backend_for_model", "backend_kind", "check_backend", "derive_seed", "fallback_answer", "make_backend",
           "make_embedder", "model_id_for", "register", "request_key", "traits_of", "unregister"]
