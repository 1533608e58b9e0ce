"""Exports people analyse: every run of a store, and one typed table per event kind (``sim.analysis.export``)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections import Counter

import pandas as pd
import pytest

from agentville.sim.analysis import export
from agentville.sim.core import events
from agentville.sim.store.eventstore import EventStore

from .conftest import ROOT, WORLDS


def agentville(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agentville.sim.cli", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    """One store, two short runs of the 3-agent village (seeds 1 and 2)."""
    db = tmp_path_factory.mktemp("export") / "two.db"
    for seed in ("1", "2"):
        done = agentville("run", str(WORLDS / "the_ville_3.yaml"), "--llm", "fake", "--until", "+1h", "--db", str(db),
                          "--seed", seed, "--no-progress")
        assert done.returncode == 0, done.stderr
    return db


@pytest.fixture(scope="module")
def logged(store_path):
    """Every event of both runs, oldest run first: (run_id, seq, sim_time, kind, agent, data, wall)."""
    with EventStore(store_path, read_only=True) as store:
        runs = export.run_ids(store)
        return runs, list(export.event_rows(store, runs))


def present(row: pd.Series, columns: dict[str, str]) -> dict:
    """The non-missing values of ``columns`` in a tidy row, JSON columns decoded: what the log's dict held."""
    found = {}
    for column, dtype in columns.items():
        value = row[column]
        if not pd.isna(value):
            found[column] = json.loads(value) if dtype == export.JSON else value
    return found


def test_all_runs_csv_holds_every_event_of_every_run(store_path, logged, tmp_path):
    runs, rows = logged
    csv = tmp_path / "all.csv"
    done = agentville("events", str(store_path), "--all-runs", "--csv", str(csv))
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(csv)
    assert len(runs) == 2 and list(table["run_id"].unique()) == runs  # oldest first
    assert list(zip(table["run_id"], table["seq"])) == [(r[0], r[1]) for r in rows]
    assert [json.loads(d) for d in table["data"]] == [r[5] for r in rows]
    newest = agentville("events", str(store_path), "--csv", "-")  # without --all-runs: the newest run, as before
    assert set(pd.read_csv(io.StringIO(newest.stdout))["run_id"]) == {runs[-1]}


def test_all_runs_text_has_a_header_per_run(store_path, logged):
    runs, rows = logged
    done = agentville("events", str(store_path), "--all-runs", "--kind", "move")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line for line in lines if line.startswith("== run")] == [f"== run {run}" for run in runs]
    assert len(lines) == len(runs) + sum(r[3] == "move" for r in rows)


def test_tidy_parquet_folder_has_one_typed_table_per_kind(store_path, logged, tmp_path):
    runs, rows = logged
    folder = tmp_path / "tables"
    done = agentville("events", str(store_path), "--all-runs", "--parquet", str(folder), "--tidy")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{kind}.parquet" for kind in events.KINDS)
    tables = {kind: pd.read_parquet(folder / f"{kind}.parquet") for kind in events.KINDS}
    counts = Counter(r[3] for r in rows)
    assert {kind: len(table) for kind, table in tables.items() if len(table)} == counts
    move, call, memory = tables["move"], tables["llm_call"], tables["memory"]
    assert pd.api.types.is_float_dtype(move["minutes"]) and pd.api.types.is_float_dtype(call["wall_latency_s"])
    assert pd.api.types.is_bool_dtype(call["fallback"]) and pd.api.types.is_bool_dtype(call["wall_cache_hit"])
    assert pd.api.types.is_integer_dtype(memory["importance"]) and pd.api.types.is_integer_dtype(call["seed"])
    assert pd.api.types.is_string_dtype(move["target"]) and pd.api.types.is_datetime64_any_dtype(move["time"])
    with EventStore(store_path, read_only=True) as store:
        starts = {run: pd.Timestamp(store.run(run)["sim_start"]) for run in runs}
    assert (move["time"] == move["run_id"].map(starts) + pd.to_timedelta(move["sim_time"], unit="s")).all()
    by_key = {(r[0], r[1]): r for r in rows}
    for kind, table in tables.items():
        columns = export.field_dtypes(kind)
        walls = {c: "wall" for c in table.columns if c.startswith("wall_")}
        for _, row in table.iterrows():
            logged_row = by_key[(row["run_id"], row["seq"])]
            assert (logged_row[3], logged_row[2]) == (kind, row["sim_time"])
            assert present(row, columns) == {k: v for k, v in logged_row[5].items() if v is not None}, kind
            assert present(row, walls) == {f"wall_{k}": v for k, v in (logged_row[6] or {}).items()}, kind


def test_every_declared_field_is_a_column_even_when_absent(store_path):
    """Optional fields (memory ``source``, choice ``options``) and empty kinds keep their columns and dtypes."""
    with EventStore(store_path, read_only=True) as store:
        first, second = (export.tidy_tables(store, run) for run in export.run_ids(store))
    memory = first["memory"]
    assert "source" in memory.columns and memory["source"].isna().any()
    assert len(first["interview"]) == 0
    assert list(first["interview"].columns) == [*export.BASE_COLUMNS, "question", "answer", "memories"]
    for kind in events.KINDS:  # the same schema whatever a run logged: the tables of two runs stack cleanly
        assert first[kind].dtypes.drop(first[kind].filter(like="wall_").columns).to_dict() \
            == second[kind].dtypes.drop(second[kind].filter(like="wall_").columns).to_dict(), kind
    plan = first["plan"]
    assert pd.api.types.is_integer_dtype(plan["minutes"]) and pd.api.types.is_string_dtype(plan["schedule"])
    assert set(export.field_dtypes("plan")) == set(events.Plan.__annotations__)


def test_tidy_csv_of_one_kind_has_its_fields_as_columns(store_path, logged, tmp_path):
    runs, rows = logged
    csv = tmp_path / "moves.csv"
    done = agentville("events", str(store_path), "--csv", str(csv), "--tidy", "--kind", "move")
    assert done.returncode == 0, done.stderr
    moves = pd.read_csv(csv)
    assert list(moves.columns) == [*export.BASE_COLUMNS, "origin", "target", "route", "minutes"]
    expected = [r[5] for r in rows if r[3] == "move" and r[0] == runs[-1]]
    assert [json.loads(route) for route in moves["route"]] == [d["route"] for d in expected]
    assert moves["minutes"].tolist() == [d["minutes"] for d in expected]


def test_tidy_limit_keeps_the_first_events_of_the_log(store_path, logged, tmp_path):
    folder = tmp_path / "first"
    assert agentville("events", str(store_path), "--parquet", str(folder), "--tidy", "--limit", "10").returncode == 0
    seqs = sorted(seq for p in folder.iterdir() for seq in pd.read_parquet(p)["seq"])
    assert seqs == list(range(1, 11))


@pytest.mark.parametrize("flags, words", [
    (["--all-runs", "--run", "2026"], "--all-runs and --run 2026: pick one"),
    (["--tidy"], "--tidy: add --parquet DIR"),
    (["--tidy", "--csv", "x.csv"], "name exactly one --kind"),
    (["--tidy", "--csv", "x.csv", "--kind", "move", "--kind", "memory"], "name exactly one --kind"),
    (["--tidy", "--parquet", "pyproject.toml"], "is a file"),
    (["--tidy", "--parquet", "no/such/folder"], "no folder"),
    (["--limit", "-1"], "--limit -1"),
])
def test_bad_flag_combinations_are_one_line_and_exit_2(store_path, flags, words):
    done = agentville("events", str(store_path), *flags)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and words in done.stderr, done.stderr
    assert not (ROOT / "x.csv").exists()


def test_a_value_off_its_declared_type_keeps_the_column_as_text_and_says_so(store_path, tmp_path, caplog):
    edited = tmp_path / "edited.db"
    edited.write_bytes(store_path.read_bytes())
    with EventStore(edited) as store:
        run_id = export.run_ids(store)[0]
        seq, data = store.db.execute("SELECT seq, data FROM events WHERE run_id=? AND kind='move' LIMIT 1",
                                     (run_id,)).fetchone()
        store.db.execute("UPDATE events SET data=? WHERE run_id=? AND seq=?",
                         (json.dumps(json.loads(data) | {"minutes": "lots"}), run_id, seq))
        store.db.commit()
        with caplog.at_level("WARNING"):
            moves = export.tidy_tables(store, run_id, kinds=["move"])["move"]
    assert "lots" in set(moves["minutes"]) and moves["minutes"].dtype == "str"  # kept, not lost
    assert [r.getMessage() for r in caplog.records] == [
        "move.minutes: 1 value is not float64 (e.g. ['lots']): the column is exported as text"]
    done = agentville("events", str(edited), "--run", run_id, "--csv", str(tmp_path / "m.csv"), "--tidy", "--kind",
                      "move")
    assert done.returncode == 0 and "move.minutes: 1 value is not float64" in done.stderr
