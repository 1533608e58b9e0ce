"""What Agentville relies on inside its dependencies, checked by name so a release that changes it fails here.

Three places build on undocumented internals, each under a version bound in
pyproject.toml: the kernel (``sim/core/kernel.py``) on simpy's environment
and events, the GPU path (``sim/generation/continuous.py``) on transformers'
continuous-batching manager, the OpenAI backend's deadline
(``sim/generation/wire.py``) on the connection pool inside httpx's transport. Should a release inside those bounds move one
of these names, the tests below say which, instead of a run failing far
from the cause. Also: every install takes its versions from the lock.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import time
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import simpy
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def bound_of(distribution: str) -> Requirement:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(r for r in map(Requirement, dependencies) if r.name == distribution)


# ----- simpy: what the kernel overrides -----

def test_simpy_is_within_the_bound_the_kernel_was_written_for():
    bound = bound_of("simpy")
    assert bound.specifier.filter([metadata.version("simpy")]), f"simpy {metadata.version('simpy')} outside {bound}"
    assert any(s.operator == "<" for s in bound.specifier), "simpy needs an upper bound: the kernel uses internals"


def test_simpy_environment_keeps_now_and_the_active_process_where_the_kernel_sets_them():
    env = simpy.Environment(initial_time=5)
    assert env._now == 5, "simpy.Environment no longer keeps the clock in _now (Kernel.process_event sets it)"
    seen = []

    def proc():
        seen.append(env._active_proc)
        yield env.timeout(1)
        seen.append(env._active_proc)

    process = env.process(proc())
    env.run()
    assert seen == [process, process], "simpy no longer names the running process in _active_proc"
    assert env._active_proc is None


def test_simpy_processes_schedule_through_the_environment():
    """Kernel.schedule keys every event; a Process must reach it (its Initialize event) and timeouts too."""
    scheduled = []

    class Recording(simpy.Environment):
        def schedule(self, event, priority=simpy.events.NORMAL, delay=0):
            scheduled.append((type(event).__name__, priority, delay))
            super().schedule(event, priority, delay)

    env = Recording()

    def proc():
        yield env.timeout(2)

    env.process(proc())
    env.run()
    assert ("Initialize", simpy.events.URGENT, 0) in scheduled and ("Timeout", simpy.events.NORMAL, 2) in scheduled


def test_simpy_events_keep_outcome_value_and_defused_where_the_kernel_reads_them():
    env = simpy.Environment()
    ok, failed = env.event(), env.event()
    ok.succeed("done")
    error = ValueError("boom")
    failed.fail(error)
    assert (ok._ok, ok._value) == (True, "done"), "simpy.Event no longer keeps _ok/_value"
    assert (failed._ok, failed._value) == (False, error)
    assert not hasattr(failed, "_defused")
    failed.defused = True
    assert hasattr(failed, "_defused"), "simpy.Event no longer marks a defused failure with _defused"
    assert failed.callbacks is not None  # the kernel swaps the list out while it runs them


# ----- transformers: what the GPU path builds on -----

def test_transformers_is_within_its_bound():
    bound = bound_of("transformers")
    assert bound.specifier.filter([metadata.version("transformers")])
    assert any(s.operator == "<" for s in bound.specifier), "transformers needs an upper bound: see continuous.py"


def test_transformers_request_state_carries_the_id_and_the_per_request_arguments():
    from transformers.generation.continuous_batching import RequestState

    fields = {field.name for field in dataclasses.fields(RequestState)}
    assert {"request_id", "logit_processor_kwargs"} <= fields, "SeededPick reads these of every request"


@pytest.mark.slow
def test_transformers_manager_takes_an_extra_logits_processor():
    """SeededPick.install appends itself to the manager's processor list (before start) and registers
    as a ContinuousBatchingLogitsProcessor; a random tiny model is enough to build a manager."""
    from transformers import ContinuousBatchingConfig, GenerationConfig
    from transformers.generation.continuous_batching.cb_logits_processors import (
        ContinuousBatchingLogitsProcessor,
    )

    from agentville.sim.generation.continuous import SeededPick
    from agentville.sim.generation.models import load, resolve

    model, _ = load(resolve("random:tiny"), device="cpu", log=lambda *_: None)
    manager = model.init_continuous_batching(
        generation_config=GenerationConfig(max_new_tokens=4, do_sample=True, temperature=0.7, top_p=0.9),
        continuous_batching_config=ContinuousBatchingConfig(per_request_processors=True, num_blocks=8,
                                                            max_batch_tokens=64))
    processors = manager.logit_processor
    for name in ("logits_processor", "tensors_required", "supported_keys", "do_processing"):
        assert hasattr(processors, name), f"the manager's logit_processor has no {name} (SeededPick.install sets it)"
    before = processors.tensors_required
    SeededPick().install(manager)
    assert isinstance(processors.logits_processor[-1], SeededPick) and processors.tensors_required == before + 1
    assert issubclass(SeededPick, ContinuousBatchingLogitsProcessor)


# ----- httpx: where the OpenAI backend's deadline goes in -----

def test_httpx_and_httpcore_are_within_their_bounds():
    for distribution in ("httpx", "httpcore"):
        bound = bound_of(distribution)
        assert bound.specifier.filter([metadata.version(distribution)]), f"{distribution} outside {bound}"
        assert any(s.operator == "<" for s in bound.specifier), f"{distribution} needs an upper bound: see wire.py"


def test_httpx_transport_sends_through_the_pool_that_deadline_client_replaces():
    """deadline_client swaps HTTPTransport._pool for an httpcore pool on its own network backend: if httpx
    stops sending through ``_pool``, a server that accepts and never answers would be waited on for 30 s."""
    import httpcore
    import httpx

    from agentville.sim.generation.wire import attempt_deadline, deadline_client

    assert isinstance(httpx.HTTPTransport()._pool, httpcore.ConnectionPool), "HTTPTransport keeps no _pool"
    with socket.create_server(("127.0.0.1", 0)) as mute, deadline_client(30, max_connections=1) as client:
        started = time.monotonic()  # the kernel completes the handshake; nobody ever reads or answers
        with attempt_deadline(0.3), pytest.raises(httpx.TimeoutException):
            client.get(f"http://127.0.0.1:{mute.getsockname()[1]}/v1/models")
        assert time.monotonic() - started < 3


# ----- the lock -----

def locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line):
            pins[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return pins


def test_the_lock_pins_every_dependency_within_its_range():
    """A dependency added to pyproject.toml by hand, not through `make lock`, fails here."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    for extra in project["project"]["optional-dependencies"].values():
        declared += extra
    pins = locked()
    for requirement in map(Requirement, declared):
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(Version(pins[name]), prereleases=True), \
            f"requirements.lock pins {name}=={pins[name]}, outside {requirement}: run `make lock`"


def test_the_environment_holds_the_locked_versions():
    """`make test` installs from the lock; a package upgraded by hand in the venv shows up here."""
    pins = locked()
    wrong = []
    for dist in metadata.distributions():
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        if name in pins and Version(dist.version).public != Version(pins[name]).public:
            wrong.append(f"{name} {dist.version} (locked {pins[name]})")
    assert not wrong, "installed versions differ from requirements.lock: " + ", ".join(sorted(wrong))
