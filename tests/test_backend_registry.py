"""Backends are registered once: a new one is a class and one ``register`` call, and nothing else asks its name."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
from pathlib import Path

import pytest

from agentville.sim.cli import main
from agentville.sim.core.errors import ScenarioError, UserError
from agentville.sim.generation import (
    BACKENDS,
    KINDS,
    BackendKind,
    ChoiceRequest,
    Completion,
    Request,
    Traits,
    backend_for_model,
    make_backend,
    register,
    traits_of,
    unregister,
)
from agentville.sim.runtime.runner import open_run
from agentville.sim.scenario import GenerationSpec, load_scenario
from agentville.sim.store.eventstore import EventStore

from .conftest import TINY


class EchoBackend:
    """Says back the prompt's last line; a choice is its default, else its first option. Knows nothing else."""

    model_id = "echo"
    traits = Traits(instant=True, understands=False, embedder="hash")

    def __init__(self) -> None:
        self.asked = 0

    def submit(self, request: Request) -> concurrent.futures.Future[Completion]:
        self.asked += 1
        if isinstance(request, ChoiceRequest):
            text = request.default if request.default in request.options else request.options[0]
        else:
            text = request.default or request.prompt.strip().splitlines()[-1]
        future: concurrent.futures.Future[Completion] = concurrent.futures.Future()
        future.set_result(Completion(text, len(request.prompt.split()), len(text.split())))
        return future

    def close(self) -> None:
        pass


@pytest.fixture
def echo():
    built: list[EchoBackend] = []

    def build(settings: GenerationSpec) -> EchoBackend:
        built.append(EchoBackend())
        return built[-1]

    register(BackendKind("echo", build, lambda model: EchoBackend.model_id, traits=EchoBackend.traits,
                         recognises=lambda model_id: model_id == EchoBackend.model_id))
    try:
        yield built
    finally:
        unregister("echo")


def test_the_scenario_schema_and_the_registry_name_the_same_backends():
    assert list(KINDS) == BACKENDS == ["embedded", "transformers", "openai", "fake"]
    assert [k.name for k in KINDS.values() if k.needs_model] == ["transformers", "openai"]
    assert [k.name for k in KINDS.values() if k.traits.instant] == ["fake"]


def test_a_registered_backend_runs_a_scenario_by_name(echo, tiny_path: Path, tmp_path: Path):
    with open_run(tiny_path, db=tmp_path / "echo.db", llm="echo") as sim:
        summary = sim.run(sim.scenario.start + dt.timedelta(hours=2))
        assert not sim.env.out_of_order  # it answers instantly, so "auto" runs in order
    (backend,) = echo
    assert summary.status == "finished" and summary.llm_calls > 0 and backend.asked >= summary.llm_calls
    with EventStore(tmp_path / "echo.db", read_only=True) as store:
        (run,) = store.runs()
    assert run["settings"]["llm"] == "echo" and run["settings"]["embedder"] == "hash-256"
    assert backend_for_model("echo") == "echo"  # resume and fork find it again without --llm


def test_a_registered_backend_is_a_scenario_files_and_the_command_lines(echo, tmp_path: Path, capsys):
    path = tmp_path / "echoing.yaml"
    path.write_text(TINY + "generation: {backend: echo}\n")
    assert load_scenario(path).generation.backend == "echo"
    assert main(["run", str(path), "--db", str(tmp_path / "cli.db"), "--until", "+1h", "--no-progress"]) == 0
    assert "finished" in capsys.readouterr().out and len(echo) == 1


def test_once_unregistered_it_is_unknown_in_the_usual_words(tmp_path: Path):
    path = tmp_path / "echoing.yaml"
    path.write_text(TINY + "generation: {backend: echo}\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    (problem,) = caught.value.problems
    assert str(problem) == (f"{path}:{TINY.count(chr(10)) + 1}: generation.backend: input should be 'embedded', "
                            "'transformers', 'openai' or 'fake' (got 'echo')")
    with pytest.raises(UserError, match=r"^--llm echo: unknown backend \(available: embedded, transformers, openai, "
                                        r"fake\)$"):
        make_backend("echo", GenerationSpec())


@pytest.mark.parametrize(("name", "understands", "embedder"), [("fake", False, "hash"), ("embedded", True, "minilm")])
def test_a_read_only_replay_stands_in_with_the_kinds_traits_and_answers_at_once(name, understands, embedder):
    stand_in = make_backend(name, GenerationSpec(), replay_only=True)  # loads nothing, not even the embedded model
    assert stand_in.model_id == KINDS[name].model_id(None)
    assert traits_of(stand_in) == Traits(instant=True, understands=understands, embedder=embedder)
