"""The refactor guard: whole fake runs must log exactly the rows they logged before.

``tests/golden_digests.json`` holds the digest of every ``(seq, sim_time,
kind, agent, data)`` row of three runs (Smallville's day with seed 7, and two
ablation settings). A change meant to change behaviour regenerates it with
``python -m tests.golden --write`` in the same commit and says so; any other
change must leave the digests as they are.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from . import golden


@pytest.mark.parametrize("name", sorted(golden.CASES))
def test_the_log_is_exactly_the_golden_one(name, tmp_path):
    expected = json.loads(golden.DIGESTS.read_text())[name]
    assert list(golden.run_case(name, tmp_path)) == expected


@pytest.mark.parametrize("name", sorted(golden.CASES))
def test_out_of_order_the_log_is_exactly_the_golden_one(name, tmp_path):
    """The out-of-order engine runs areas on their own clocks and still logs the very same rows."""
    expected = json.loads(golden.DIGESTS.read_text())[name]
    assert list(golden.run_case(name, tmp_path, scheduling="out-of-order")) == expected


# OpenBLAS kernels that every x86-64 CPU can run ("" = the one it picks itself); elsewhere the variable is ignored.
KERNELS = [{}, {"OPENBLAS_CORETYPE": "Nehalem"}, {"OPENBLAS_CORETYPE": "Prescott", "OPENBLAS_NUM_THREADS": "1"}]


def test_the_log_is_the_same_whichever_math_kernels_the_machine_picks():
    """Determinism holds across machines, not only across runs on one.

    Retrieval once ranked memories by float products whose last bit depended
    on the BLAS kernel (CPU type, threads): identical memories stopped being
    ties, and Smallville's day logged four different histories under these
    settings. Each run is a fresh process, so the kernel is chosen anew.
    """
    script = ("import sys, tempfile, pathlib; from tests import golden; "
              "print(golden.run_case('smallville-day-seed7', pathlib.Path(tempfile.mkdtemp())))")
    found = set()
    for kernel in KERNELS:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")} | kernel
        done = subprocess.run([sys.executable, "-c", script], cwd=golden.ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        found.add(done.stdout.strip())
    assert len(found) == 1, found


@pytest.mark.xfail(strict=True, reason="known, not yet fixed: with importance from embeddings the fake Smallville day "
                   "run out of order logs one memory more at 17:35 (Arthur Burton sees Ryan Park wrapping up at the "
                   "dartboard after Ryan set off home), not in order")
def test_out_of_order_is_exact_with_importance_from_embeddings(tmp_path):
    """Other importances move reflections and steps, which exposes a difference the golden cases do not reach."""
    from agentville.sim.runtime.runner import open_run
    from agentville.sim.store.eventstore import EventStore

    found = []
    for scheduling in ("in-order", "out-of-order"):
        db = tmp_path / f"{scheduling}.db"
        with open_run(golden.ROOT / "worlds/smallville.yaml", db=db, seed=7, llm="fake", scheduling=scheduling,
                      cognition={"importance": "embedding"}) as sim:
            summary = sim.run(sim.scenario.start + dt.timedelta(hours=24))
        with EventStore(db, read_only=True) as store:
            found.append(golden.rows_digest((e.seq, e.sim_time, e.kind, e.agent, e.data)
                                            for e in store.iter_events(summary.run_id)))
    assert found[0] == found[1]
