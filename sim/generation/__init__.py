"""Language-model access shared by all agents: requests, backends and the service."""

from .fake import FakeBackend
from .requests import Backend, ChoiceRequest, Completion, Request, TextRequest, derive_seed, request_key
from .service import GenerationError, GenerationService

BACKENDS = ("fake",)


def make_backend(name: str, *, model: str | None = None) -> Backend:
    """Build a backend by name (the CLI's ``--llm``)."""
    if name == "fake":
        return FakeBackend()
    raise ValueError(f"unknown --llm '{name}' (available: {', '.join(BACKENDS)})")


__all__ = ["Backend", "ChoiceRequest", "Completion", "FakeBackend", "GenerationError", "GenerationService",
           "Request", "TextRequest", "derive_seed", "make_backend", "request_key", "BACKENDS"]
