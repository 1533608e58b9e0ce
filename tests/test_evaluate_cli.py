"""``agentville evaluate`` from the shell: a store's run graded, conditions compared, errors as one line;
the run summary's believability lines; a sweep's score columns (issue 27)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from agentville.sim.analysis.questions import CATEGORIES
from agentville.sim.cli import main
from agentville.sim.lab.sweep import load_sweep, run_sweep
from agentville.sim.store import evaluations
from agentville.sim.store.eventstore import EventStore

from .conftest import WORLDS, error_lines

VILLE = str(WORLDS / "the_ville_3.yaml")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    db = tmp_path_factory.mktemp("evaluate") / "v3.db"
    assert main(["run", VILLE, "--llm", "fake", "--until", "+6h", "--db", str(db), "--no-progress"]) == 0
    return db


def test_a_store_prints_categories_made_up_names_worst_answers_and_rubric(store, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(store), "--no-save"]) == 0
    out = capsys.readouterr().out
    for category in (*CATEGORIES, "all"):
        assert f"\n{category.rjust(14)}" in out or f"\n {category}" in out or category in out
    assert "Made-up names:" in out and "Worst answers (expected from the log):" in out
    assert "Rubric (from the log):" in out and "plan adherence" in out
    assert "expected" in out and "interview calls" in out
    with EventStore(store, read_only=True) as opened:  # --no-save kept nothing
        assert evaluations.latest(opened.db, opened.run()["run_id"]) is None


def test_json_and_csv_hold_the_same_answers_and_the_result_is_kept(store, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(store), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [c["category"] for c in document["categories"]] == [*CATEGORIES, "all"]
    assert len(document["answers"]) == document["categories"][-1]["questions"] == document["interview_calls"]
    assert {"measure", "value", "unit", "what"} <= set(document["rubric"][0])
    assert main(["evaluate", str(store), "--csv", "--no-save"]) == 0
    table = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert list(table["question"]) == [a["question"] for a in document["answers"]]
    assert list(table["grade"]) == [a["grade"] for a in document["answers"]]
    with EventStore(store, read_only=True) as opened:
        kept = evaluations.latest(opened.db, document["run_id"])
    assert kept is not None and [a["answer"] for a in kept["answers"]] == [a["answer"] for a in document["answers"]]


def test_an_earlier_moment_asks_about_less(store, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(store), "--at", "+2h", "--json", "--no-save"]) == 0
    early = json.loads(capsys.readouterr().out)
    assert early["at"].endswith("10:00:00")
    assert main(["evaluate", str(store), "--json", "--no-save"]) == 0
    late = json.loads(capsys.readouterr().out)
    assert len(early["answers"]) < len(late["answers"])


@pytest.mark.parametrize("words, says", [
    (["--at", "+9h"], "--at 2023-02-13 17:00: the run lived from 2023-02-13 08:00 to 2023-02-13 14:00"),
    (["--at=-1h"], "--at"),
    (["--at", "tomorrow"], "--at"),
    (["--run", "nosuchrun"], "no run matches 'nosuchrun'"),
    (["--ablations"], "--ablations, --until and --db take a scenario"),
    (["--llm", "fake", "--llm", "fake"], "a store's run has one model"),
])
def test_mistakes_with_a_store_are_one_line(store, capsys, words, says):
    capsys.readouterr()
    assert main(["evaluate", str(store), *words]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and says in lines[0], lines


@pytest.mark.parametrize("words, says", [
    ([], "say what to compare: --ablations, or two or more --llm"),
    (["--ablations", "--llm", "fake", "--llm", "embedded"], "--ablations compares on one model"),
    (["--ablations", "--at", "+1h"], "--run and --at take a store"),
    (["--ablations", "--until", "yesterday"], "--until"),
])
def test_mistakes_with_a_scenario_are_one_line(tmp_path, capsys, words, says):
    assert main(["evaluate", VILLE, "--db", str(tmp_path / "c.db"), *words]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and says in lines[0], lines


def test_a_missing_store_is_one_line_and_creates_nothing(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "none.db")]) == 2
    assert error_lines(capsys.readouterr().err) == [f"agentville: error: {tmp_path / 'none.db'}: no such event store"]
    assert not (tmp_path / "none.db").exists()


def test_the_ablations_table_has_the_papers_four_conditions_and_no_memory_remembers_nothing(tmp_path, capsys):
    assert main(["evaluate", VILLE, "--ablations", "--llm", "fake", "--until", "+8h", "--db", str(tmp_path / "a.db"),
                 "--json", "--no-progress"]) == 0
    table = pd.DataFrame(json.loads(capsys.readouterr().out))
    assert list(table["condition"]) == ["full", "no reflection", "no reflection, no planning", "no memory"]
    assert list(table["paper TrueSkill"]) == [29.89, 26.88, 25.64, 21.21]
    full, _, _, amnesia = table.to_dict(orient="records")
    assert amnesia["memory"] == 0 and full["memory"] > 0.2
    assert amnesia["all"] < full["all"]
    assert table["interview calls"].gt(0).all() and table["run calls"].gt(0).all()
    with EventStore(tmp_path / "a.db", read_only=True) as opened:
        runs = opened.runs()
    assert len(runs) == 4 and {r["settings"]["cognition"]["memory"] for r in runs} == {True, False}


def test_models_are_compared_one_row_each(tmp_path, capsys):
    assert main(["evaluate", VILLE, "--llm", "fake", "--llm", "fake", "--until", "+3h",
                 "--db", str(tmp_path / "m.db"), "--csv", "--no-progress"]) == 0
    table = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert list(table["condition"]) == ["fake", "fake #2"]
    assert table["all"].iloc[0] == table["all"].iloc[1]  # the same model and seed: the same scores


def test_the_run_summary_has_two_believability_lines(tmp_path, capsys):
    db = tmp_path / "s.db"
    assert main(["run", VILLE, "--llm", "fake", "--until", "+4h", "--db", str(db), "--no-progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(out) if line.startswith("  believable "))
    assert "rubric: asleep at night n/a · places per day" in out[at]
    assert out[at + 1].strip().startswith("interviews: ") and "evaluate" in out[at + 1] and str(db) in out[at + 1]
    assert main(["run", VILLE, "--llm", "fake", "--until", "+4h", "--db", str(db), "--no-progress",
                 "--evaluate"]) == 0
    out = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(out) if line.startswith("  believable "))
    assert "interviews: self-knowledge " in out[at + 1] and "made-up names 0.00" in out[at + 1]


def test_a_sweep_collects_scores_per_run(tmp_path):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(f"scenario: {VILLE}\nuntil: +4h\nllm: fake\nseeds: [1]\ngrid:\n  memory: [true, false]\n"
                     f"  reflection: [false]\nout: {tmp_path / 'out'}\nevaluate: true\n")
    table = run_sweep(load_sweep(sweep), workers=1)
    assert list(table["memory"]) == [True, False]
    assert table["score memory"].iloc[1] == 0 and table["score memory"].iloc[0] > 0
    assert not math.isnan(table["made-up names"].iloc[0])


def test_a_sweep_evaluate_that_is_no_boolean_is_one_line(tmp_path, capsys):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(f"scenario: {VILLE}\nuntil: +4h\nllm: fake\nevaluate: yes please\n")
    assert main(["sweep", str(sweep)]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "s.yaml:4: evaluate: true or false (got 'yes please')" in lines[0], lines


def test_a_judge_grades_too_and_the_comparison_ranks_pairwise(store, tmp_path, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(store), "--no-save", "--judge-llm", "fake"]) == 0
    out = capsys.readouterr().out
    assert "By the judge's grades:" in out
    assert main(["evaluate", str(store), "--judge-model", "x"]) == 2
    assert error_lines(capsys.readouterr().err) == ["agentville: error: --judge-model and --judge-base-url need "
                                                    "--judge-llm"]
    assert main(["evaluate", VILLE, "--ablations", "--llm", "fake", "--until", "+4h", "--db", str(tmp_path / "j.db"),
                 "--json", "--no-progress", "--judge-llm", "fake"]) == 0
    table = pd.DataFrame(json.loads(capsys.readouterr().out))
    assert {"judge all", "pairwise", "pairwise (judge)"} <= set(table.columns)
    assert table["pairwise"].sum() == pytest.approx(1) and table["pairwise (judge)"].sum() == pytest.approx(1)
    assert table.set_index("condition")["pairwise"].idxmin() == "no memory"


def test_a_run_that_cannot_be_relived_is_one_clear_error_and_the_store_is_untouched(tmp_path):
    """Its cached answers gone and the model answering otherwise, the re-lived log parts from the stored one."""
    import sqlite3

    from agentville.sim.core.errors import UserError
    from agentville.sim.lab.evaluation import evaluate_run

    from .scripted import ScriptedBackend

    db = tmp_path / "lost.db"
    assert main(["run", VILLE, "--llm", "fake", "--until", "+3h", "--db", str(db), "--no-progress"]) == 0
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM llm_cache")
    before = db.read_bytes()
    with pytest.raises(UserError) as caught:
        evaluate_run(db, backend=ScriptedBackend(), save=False)
    message = str(caught.value)
    assert message.startswith("cannot re-live run ") and "to interview its residents: it could not reproduce" in message
    assert "\n" not in message and db.read_bytes() == before
