"""The backends, each registered once with the facts the rest of the code may ask of it.

``--llm NAME`` and a scenario's ``generation.backend`` name a ``BackendKind``:
how it is built from the scenario's generation settings (the command line's
``--model`` and ``--base-url`` applied), its cache identity computed without
loading anything, what it needs, and what its answers are like (``Traits``).
Code elsewhere asks these facts, never a backend's name or class, so adding a
backend is one module with its class and one line in ``KINDS``; a plugin (or
a test) calls ``register`` instead.

The names are also declared a layer down, in ``sim.scenario.schema.BACKENDS``,
because a scenario file is checked without importing any backend: a built-in
backend's name goes there too, and this module fails at import while the two
lists differ. ``register`` adds to both, so a plugin's name is a scenario's too.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from agentville.sim.core.errors import GenerationError, UserError
from agentville.sim.scenario.schema import BACKENDS, GenerationSpec

from .endpoints import DEFAULT_KEY_ENV, Server, destinations, servers
from .fake import FakeBackend
from .models import EMBEDDED, resolve
from .requests import REAL_MODEL, Backend, Completion, Request, Traits

log = logging.getLogger(__name__)


def _never(model_id: str) -> bool:
    return False


@dataclass(frozen=True)
class BackendKind:
    """One way of answering requests, under the name ``--llm`` gives it."""

    name: str
    build: Callable[..., Backend]  # (settings) with overrides applied; a kind that needs_server: (settings, replicas)
    model_id: Callable[[str | None], str]  # the cache identity for a model name, without loading anything
    needs_model: bool = False  # a model must be named (--model or generation.model)
    needs_server: bool = False  # a server must be named (--base-url or generation.base_urls)
    loads_model: bool = False  # building it loads weights into this process, which takes a while
    traits: Traits = REAL_MODEL  # what its answers are like, also known when it is not built (a replay)
    recognises: Callable[[str], bool] = _never  # a stored run's model id it reaches again without --model


def _in_process(settings: GenerationSpec) -> Backend:
    from .transformers_backend import TransformersBackend  # torch: imported only when a model is wanted

    return TransformersBackend(settings.model)


def _embedded(settings: GenerationSpec) -> Backend:
    return _in_process(settings.model_copy(update={"model": None}))  # the packaged model, whatever is named


def _server(settings: GenerationSpec, replicas: list[Server]) -> Backend:
    from .openai_backend import BackendUnavailable, OpenAIBackend

    assert settings.model is not None  # needs_model
    try:
        return OpenAIBackend(settings.model, replicas,
                             max_concurrency=settings.max_concurrency, timeout_s=settings.timeout_s,
                             retries=settings.retries)
    except BackendUnavailable as exc:
        raise UserError(str(exc)) from None


KINDS: dict[str, BackendKind] = {kind.name: kind for kind in [
    BackendKind("embedded", _embedded, lambda model: resolve(None).model_id, loads_model=True,
                recognises=lambda model_id: model_id.startswith(f"{EMBEDDED}:")),  # any version of it
    BackendKind("transformers", _in_process, lambda model: resolve(model).model_id, needs_model=True,
                loads_model=True),
    BackendKind("openai", _server, lambda model: f"openai:{model}", needs_model=True, needs_server=True),
    BackendKind("fake", lambda settings: FakeBackend(), lambda model: FakeBackend.model_id,
                traits=FakeBackend.traits, recognises=lambda model_id: model_id == FakeBackend.model_id),
]}
if list(KINDS) != BACKENDS:
    raise RuntimeError(f"the backends registered ({', '.join(KINDS)}) are not those sim.scenario.schema.BACKENDS "
                       f"declares ({', '.join(BACKENDS)})")


def register(kind: BackendKind) -> BackendKind:
    """Make ``kind`` a backend ``--llm`` and scenarios may name, until ``unregister``."""
    if kind.name in KINDS:
        raise ValueError(f"a backend named {kind.name!r} is registered already")
    KINDS[kind.name] = kind
    BACKENDS.append(kind.name)
    return kind


def unregister(name: str) -> None:
    """Forget a registered backend (a test's, once it is done)."""
    del KINDS[name]
    BACKENDS.remove(name)


def backend_kind(name: str) -> BackendKind:
    """The kind ``--llm name`` stands for, or a one-line error listing those there are."""
    try:
        return KINDS[name]
    except KeyError:
        raise UserError(f"--llm {name}: unknown backend (available: {', '.join(KINDS)})") from None


def backend_for_model(model_id: str) -> str | None:
    """The backend that answers as a stored run's model did without being told a model, if there is one."""
    return next((kind.name for kind in KINDS.values() if kind.recognises(model_id)), None)


def model_id_for(name: str, model: str | None) -> str:
    """The cache identity of a backend, computed without loading anything."""
    return backend_kind(name).model_id(model)


def check_backend(name: str, model: str | None) -> str | None:
    """The model a backend will use, or a one-line error for an unknown backend or a missing model."""
    if backend_kind(name).needs_model and not model:
        raise UserError(f"--llm {name} needs a model: pass --model or set generation.model in the scenario")
    return model


class ReplayOnlyBackend:
    """Stands in for a model during a read-only replay: every answer must come from the cache.

    It has the replayed kind's traits, and answers (from the cache) at once.
    """

    def __init__(self, model_id: str, traits: Traits = REAL_MODEL):
        self.model_id = model_id
        self.traits = replace(traits, instant=True)

    def submit(self, request: Request) -> concurrent.futures.Future[Completion]:
        raise GenerationError(f"read-only replay: model {self.model_id} is not loaded")

    def close(self) -> None:
        pass


def make_backend(name: str, settings: GenerationSpec, *, model: str | None = None, base_urls: list[str] | None = None,
                 api_key_env: str = DEFAULT_KEY_ENV, replay_only: bool = False) -> Backend:
    """Build the backend the CLI's ``--llm`` (or the scenario) names; ``model`` and ``base_urls`` override the
    scenario's.

    ``base_urls`` are the user's (flags, code), the scenario's ``generation.base_urls`` are not: the key in
    ``$api_key_env`` goes only to the user's (``endpoints``). Where requests go is logged before the first.
    """
    kind = backend_kind(name)
    model = check_backend(name, model or settings.model)
    if replay_only:
        return ReplayOnlyBackend(kind.model_id(model), kind.traits)
    settings = settings.model_copy(update={"model": model})
    if not kind.needs_server:
        return kind.build(settings)
    if not (base_urls or settings.base_urls):
        raise UserError(f"--llm {name} needs a server: pass --base-url or set generation.base_urls")
    replicas = servers(base_urls, settings.base_urls, key_env=api_key_env)
    log.warning("agentville: %s", destinations(replicas, api_key_env))
    return kind.build(settings.model_copy(update={"base_urls": [replica.url for replica in replicas]}), replicas)
