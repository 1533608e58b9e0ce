"""Importance that means something on any model: calibration, the embedding estimator, and what the run logs."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import numpy as np
import pytest

from agentville.agents.memory.importance import AGREEMENT, Estimator, Importance, spearman
from agentville.agents.memory.importance_examples import CALIBRATION, EXAMPLES, HELD_OUT
from agentville.sim.core import events
from agentville.sim.core.errors import ScenarioError
from agentville.sim.generation import FakeBackend, HashEmbedder
from agentville.sim.generation.requests import ChoiceRequest, Completion, Request, Traits
from agentville.sim.runtime.runner import assemble, open_run
from agentville.sim.scenario import load_scenario
from agentville.sim.store.eventstore import EventStore
from tests.scripted import ScriptedBackend

LABELS = {text: label for label, text in EXAMPLES}
MEMORY_LINE = re.compile(r"Memory: (.*)\nRating:$")


class Reading(FakeBackend):
    """The fake's answers from a backend that says it reads its prompts, as a model does: ``auto`` calibrates it."""

    traits = Traits(instant=True, understands=True, embedder="hash")


class ScriptedReader(ScriptedBackend):
    traits = Reading.traits


class Rater(Reading):
    """The fake backend, except that importance ratings come from ``rate(memory text)``."""

    def __init__(self, rate):
        super().__init__()
        self.rate = rate

    def answer(self, request: Request) -> Completion:
        if isinstance(request, ChoiceRequest) and request.purpose.startswith("importance"):
            answer = str(self.rate(MEMORY_LINE.search(request.prompt)[1]))
            return Completion(answer, 1, 1, raw=answer)
        return super().answer(request)


def follows_the_labels(text: str) -> int:
    return LABELS.get(text, 5)


def run_log(scenario, tmp_path, backend, name="r.db", hours=3, **cognition):
    """The run's settings and its rows (seq, time, kind, agent, data)."""
    with EventStore(tmp_path / name) as store:
        summary = assemble(scenario, store=store, backend=backend, cognition=cognition).run(
            scenario.start + dt.timedelta(hours=hours))
        rows = [(e.seq, e.sim_time, e.kind, e.agent, e.data) for e in store.iter_events(summary.run_id)]
        return store.run(summary.run_id)["settings"], rows


def of_kind(rows, kind, purpose=None):
    return [r[4] for r in rows if r[2] == kind and (purpose is None or r[4].get("purpose") == purpose)]


# ----- the labelled examples -----

def test_the_examples_span_the_scale_mostly_low_and_split_into_two_disjoint_parts():
    labels = [label for label, _ in EXAMPLES]
    assert 55 <= len(EXAMPLES) <= 70 and len({text for _, text in EXAMPLES}) == len(EXAMPLES)
    assert np.median(labels) <= 4 and sum(label <= 3 for label in labels) > len(labels) / 3
    for part in (CALIBRATION, HELD_OUT):
        assert {label for label, _ in part} == set(range(1, 11))
    assert set(CALIBRATION) | set(HELD_OUT) == set(EXAMPLES) and not set(CALIBRATION) & set(HELD_OUT)
    assert len(CALIBRATION) == pytest.approx(2 * len(EXAMPLES) / 3, abs=3)


@pytest.mark.parametrize("a, b, expected", [
    ([1, 2, 3, 4], [10, 20, 30, 40], 1.0), ([1, 2, 3, 4], [4, 3, 2, 1], -1.0),
    ([1, 2, 3, 4], [1, 4, 9, 100], 1.0),  # ranks, not values
    ([1, 2, 3], [10, 10, 10], 0.0), ([7], [3], 0.0),  # a side without any order: undefined, taken as none
    ([1, 2, 3, 4, 5], [2, 1, 4, 3, 5], 0.8),  # 1 - 6 * 4 / (5 * 24)
    ([1, 2, 2, 3], [1, 2, 3, 4], 0.9486832980505138),  # ties share their mean rank
])
def test_spearman(a, b, expected):
    assert spearman(a, b) == pytest.approx(expected)


# ----- the estimator -----

def test_the_estimator_ranks_held_out_examples_like_their_labels_with_the_hashing_embedder():
    embedder = HashEmbedder()
    estimator = Estimator.train(embedder.embed([t for _, t in CALIBRATION]), [label for label, _ in CALIBRATION])
    rated = estimator.rate(embedder.embed([t for _, t in HELD_OUT]))
    assert spearman(rated, [label for label, _ in HELD_OUT]) >= 0.6  # measured 0.709
    assert all(1 <= r <= 10 and isinstance(r, int) for r in rated)
    assert len(set(estimator.rate(embedder.embed([t for _, t in EXAMPLES])))) >= 6  # measured 8 (1-8)


def test_the_estimator_rates_the_same_from_vectors_of_any_length_or_rounding():
    """Ratings depend on the direction only, kept as whole numbers: scaling or float32 noise changes nothing."""
    embedder = HashEmbedder()
    estimator = Estimator.train(embedder.embed([t for _, t in CALIBRATION]), [label for label, _ in CALIBRATION])
    vectors = embedder.embed([t for _, t in EXAMPLES])
    assert estimator.rate(vectors) == estimator.rate(vectors * 3.5) == estimator.rate(vectors.astype(np.float64))


@pytest.mark.slow
def test_the_estimator_ranks_held_out_examples_like_their_labels_with_minilm():
    from agentville.sim.generation.embeddings import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    estimator = Estimator.train(embedder.embed([t for _, t in CALIBRATION]), [label for label, _ in CALIBRATION])
    rated = estimator.rate(embedder.embed([t for _, t in HELD_OUT]))
    assert spearman(rated, [label for label, _ in HELD_OUT]) >= 0.6  # measured 0.804
    everyday = estimator.rate(embedder.embed(["Klaus Mueller is having breakfast", "the stove is idle",
                                              "Isabella Rodriguez is serving coffee at the counter"]))
    disaster = estimator.rate(embedder.embed(["a fire destroyed the pharmacy and two people were hurt"]))
    assert max(everyday) < disaster[0]


# ----- auto: the model, if its ratings follow the labels -----

@pytest.mark.parametrize("rate, source", [
    (lambda text: 10, "embedding"),  # Gemma 3 270M: 10 for nearly everything
    (lambda text: 1, "embedding"),
    (lambda text: 11 - follows_the_labels(text), "embedding"),  # backwards
    (follows_the_labels, "model"),
    (lambda text: min(10, follows_the_labels(text) + 2), "model"),  # off by some, but in order
])
def test_auto_lets_the_model_rate_only_when_its_ratings_follow_the_labels(tiny, tmp_path, rate, source):
    settings, rows = run_log(tiny, tmp_path, Rater(rate), hours=2)
    assert settings["importance_source"] == source
    assert (settings["importance_agreement"] >= AGREEMENT) == (source == "model")
    calibration = of_kind(rows, events.LLM_CALL, "importance_calibration")
    asked = [c["prompt"].split("Memory: ")[-1].removesuffix("\nRating:") for c in calibration]
    firsts = [next(text for label, text in CALIBRATION if label == n) for n in range(1, 11)]
    assert asked[:10] == firsts  # one example of each label first, asked once per run (not per agent)
    ranks = len({rate(text) for text in firsts}) > 1  # then, if it told them apart at all, all the others
    assert sorted(asked) == sorted(text for _, text in CALIBRATION) if ranks else asked == firsts
    assert all(r[3] is None for r in rows if r[2] == events.LLM_CALL and r[4]["purpose"] == "importance_calibration")
    memories = of_kind(rows, events.MEMORY)
    assert memories and {m["importance_source"] for m in memories} == {source}
    assert bool(of_kind(rows, events.LLM_CALL, "importance")) == (source == "model")  # no call per memory


def test_a_model_rating_at_chance_gets_the_estimator(tiny, tmp_path):
    settings, rows = run_log(tiny, tmp_path, Reading())
    assert settings["importance_source"] == "embedding" and abs(settings["importance_agreement"]) < AGREEMENT
    assert settings["importance_estimator_rho"] >= 0.6 and settings["cognition"]["importance"] == "auto"
    assert len(set(m["importance"] for m in of_kind(rows, events.MEMORY))) >= 3


def test_a_model_that_gave_no_ratings_is_not_trusted(tiny, tmp_path):
    """All calibration answers fell back to the plain "3" (the server was down): the estimator rates."""
    settings, rows = run_log(tiny, tmp_path, ScriptedReader({"importance": "9"}))
    assert settings["importance_source"] == "embedding" and settings["importance_agreement"] == 0
    asked = of_kind(rows, events.LLM_CALL, "importance_calibration")
    assert {c["output"] for c in asked} == {"3"} and len(asked) == 10  # the same for all ten labels: no more asked


def test_the_rule_based_fake_keeps_its_own_ratings_under_auto(tiny, tmp_path):
    """Calibrating a test double that does not read its prompts would measure nothing (and change every fake run)."""
    settings, rows = run_log(tiny, tmp_path, FakeBackend())
    assert settings["importance_source"] == "model" and "importance_agreement" not in settings
    assert settings["importance_calibration"].startswith("skipped")
    assert not of_kind(rows, events.LLM_CALL, "importance_calibration")
    assert of_kind(rows, events.LLM_CALL, "importance")
    assert {m["importance_source"] for m in of_kind(rows, events.MEMORY)} == {"model"}


# ----- model and embedding: no calibration -----

def test_model_rates_every_memory_and_embedding_none_without_calibrating(tiny, tmp_path):
    settings, rows = run_log(tiny, tmp_path, Rater(lambda text: 7), name="model.db", importance="model")
    assert settings["importance_source"] == "model" and "importance_agreement" not in settings
    assert not of_kind(rows, events.LLM_CALL, "importance_calibration")
    assert {m["importance"] for m in of_kind(rows, events.MEMORY)} == {7}
    assert len(of_kind(rows, events.LLM_CALL, "importance")) >= len({m["text"] for m in of_kind(rows, events.MEMORY)})
    settings, rows = run_log(tiny, tmp_path, Rater(lambda text: 7), name="embedding.db", importance="embedding")
    assert settings["importance_source"] == "embedding" and "importance_agreement" not in settings
    assert not [c for c in of_kind(rows, events.LLM_CALL) if c["purpose"].startswith("importance")]
    assert {m["importance_source"] for m in of_kind(rows, events.MEMORY)} == {"embedding"}


def test_an_agent_outside_a_run_cannot_rate_before_auto_has_decided():
    with pytest.raises(RuntimeError, match="decided when the run starts"):
        Importance("auto").by_model  # noqa: B018
    with pytest.raises(ValueError, match="importance must be one of"):
        Importance("sometimes")


def test_a_scenario_naming_an_unknown_importance_is_refused_in_one_line(tiny_path):
    tiny_path.write_text(tiny_path.read_text() + "cognition:\n  importance: sometimes\n")
    with pytest.raises(ScenarioError, match=r"tiny.yaml:\d+: cognition\.importance: input should be 'auto', "):
        load_scenario(tiny_path)


def test_older_memory_rows_without_a_source_still_conform():
    row = {"id": 0, "kind": "event", "text": "Ann runs the cafe", "importance": 3, "subject": None,
           "evidence": [], "depth": 0}
    assert events.problems(events.MEMORY, row) == []
    assert events.problems(events.MEMORY, row | {"importance_source": "embedding"}) == []


# ----- determinism, resume, failures -----

def test_the_same_run_twice_rates_the_same(tiny, tmp_path):
    first = run_log(tiny, tmp_path, FakeBackend(), name="a.db")
    second = run_log(tiny, tmp_path, FakeBackend(), name="b.db")
    assert first == second
    ratings = Counter(m["importance"] for m in of_kind(first[1], events.MEMORY))
    assert sum(ratings.values()) > 10


def test_the_calibration_measures_the_model_so_a_later_run_of_it_finds_the_answers_cached(tiny, tmp_path):
    with EventStore(tmp_path / "shared.db") as store:
        for seed in (1, 2):
            summary = assemble(tiny, store=store, backend=Reading(), seed=seed).run(tiny.start + dt.timedelta(hours=1))
        asked = [(e.data["seed"], e.wall["cache_hit"]) for e in store.iter_events(summary.run_id, kinds=["llm_call"])
                 if e.data["purpose"] == "importance_calibration"]
        first = store.runs()[-1]
        assert len(asked) == len(CALIBRATION) and all(hit for _, hit in asked)  # the fake tells the first ten apart
        assert store.run(summary.run_id)["settings"]["importance_agreement"] == first["settings"]["importance_agreement"]
    other = [c.data["seed"] for c in EventStore(tmp_path / "shared.db").iter_events(first["run_id"], kinds=["llm_call"])
             if c.data["purpose"] == "importance_calibration"]
    assert other == [seed for seed, _ in asked] and len(set(other)) == len(other)


def test_a_stopped_run_resumes_to_the_same_decision_and_log(tiny_path, tmp_path):
    until = load_scenario(tiny_path).start + dt.timedelta(hours=4)
    with open_run(tiny_path, db=tmp_path / "whole.db", backend=Reading()) as sim:
        whole = sim.run(until)
    with EventStore(tmp_path / "whole.db") as store:
        expected = [(e.seq, e.sim_time, e.kind, e.agent, e.data) for e in store.iter_events(whole.run_id)]
        expected_settings = store.run(whole.run_id)["settings"]
    db = tmp_path / "stopped.db"
    with open_run(tiny_path, db=db, backend=Reading()) as sim:
        sim.start(until)
        sim.advance(sim.scenario.start + dt.timedelta(hours=1))
        run_id = sim.finish("interrupted").run_id
    with open_run(tiny_path, db=db, backend=Reading()) as sim:
        sim.run(until, resume=run_id)
    with EventStore(db) as store:
        assert [(e.seq, e.sim_time, e.kind, e.agent, e.data) for e in store.iter_events(run_id)] == expected
        settings = store.run(run_id)["settings"]
    importance = ("importance_source", "importance_agreement", "importance_estimator_rho")
    assert [settings[k] for k in importance] == [expected_settings[k] for k in importance]
    assert settings["importance_source"] == "embedding"


def test_a_model_failing_during_calibration_fails_the_run_and_keeps_its_log(tiny, tmp_path):
    import concurrent.futures

    class Broken(FakeBackend):
        def submit(self, request):
            future: concurrent.futures.Future = concurrent.futures.Future()
            future.set_exception(ConnectionError("server went away"))
            return future

    stopping = tiny.model_copy(update={"generation": tiny.generation.model_copy(update={"on_failure": "stop"})})
    with EventStore(tmp_path / "broken.db") as store:
        with pytest.raises(Exception, match="server went away"):
            assemble(stopping, store=store, backend=Broken()).run(tiny.start + dt.timedelta(hours=1))
        (row,) = store.runs()
        assert row["status"] == "failed" and "server went away" in row["error"]
        assert [e.kind for e in store.iter_events(row["run_id"])][:1] == [events.RUN_STARTED]


def test_the_command_line_sets_the_source(tiny_path, tmp_path, capsys):
    from agentville.sim.cli import main

    for setting in ("model", "embedding"):
        db = tmp_path / f"{setting}.db"
        assert main(["run", str(tiny_path), "--llm", "fake", "--until", "+1h", "--db", str(db), "--no-progress",
                     "--importance", setting]) == 0
        with EventStore(db, read_only=True) as store:
            settings = store.run()["settings"]
        assert settings["importance_source"] == settings["cognition"]["importance"] == setting
        assert f"importance {setting}" in capsys.readouterr().out


def test_a_list_of_runs_tells_them_apart_by_source_not_by_the_figures_they_measured():
    from agentville.sim.analysis.runlist import varying_settings

    def run(source, agreement, held_out):
        return {"settings": {"llm": "fake", "importance_source": source, "importance_agreement": agreement,
                             "importance_estimator_rho": held_out, "cognition": {"importance": "auto"}}}

    assert varying_settings([run("embedding", -0.05, 0.71), run("embedding", 0.12, 0.71)]) == ["", ""]
    assert varying_settings([run("embedding", 0.12, 0.71), run("model", 0.93, None)]) == [
        "importance_source=embedding", "importance_source=model"]
