"""Golden logs: digests of whole fake-backend runs, to prove a refactor changes no event.

``python -m tests.golden`` prints the digests of the current code; the test
(tests/test_golden.py) compares them with ``golden_digests.json``. A change
that is meant to change behaviour updates that file in the same commit and
says why; any other change must leave it alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
DIGESTS = Path(__file__).with_name("golden_digests.json")

# name -> (scenario file, seed, hours, cognition overrides)
CASES: dict[str, tuple[str, int, int, dict[str, bool]]] = {
    "smallville-day-seed7": ("worlds/smallville.yaml", 7, 24, {}),
    "the_ville_3-ablations-seed7": ("worlds/the_ville_3.yaml", 7, 14, {"planning": False, "retrieval": False}),
    "the_ville_3-no-reflection-seed3": ("worlds/the_ville_3.yaml", 3, 30, {"reflection": False}),
}


def rows_digest(rows) -> tuple[int, str]:
    """(row count, sha256) of (seq, sim_time, kind, agent, data) rows: what determinism promises."""
    digest = hashlib.sha256()
    count = 0
    for seq, sim_time, kind, agent, data in rows:
        digest.update(orjson.dumps([seq, sim_time, kind, agent, data], option=orjson.OPT_SORT_KEYS))
        digest.update(b"\n")
        count += 1
    return count, digest.hexdigest()


def run_case(name: str, folder: Path, scheduling: str = "in-order") -> tuple[int, str]:
    from agentville.sim.runtime.runner import open_run  # noqa: F401  (the one place that assembles a run)
    from agentville.sim.store.eventstore import EventStore

    scenario, seed, hours, cognition = CASES[name]
    db = folder / f"{name}.db"
    with open_run(ROOT / scenario, db=db, seed=seed, llm="fake", cognition=cognition, scheduling=scheduling) as sim:
        summary = sim.run(sim.scenario.start + dt.timedelta(hours=hours))
    with EventStore(db, read_only=True) as store:
        return rows_digest((e.seq, e.sim_time, e.kind, e.agent, e.data) for e in store.iter_events(summary.run_id))


def current() -> dict[str, list]:
    with tempfile.TemporaryDirectory() as folder:
        return {name: list(run_case(name, Path(folder))) for name in CASES}


if __name__ == "__main__":
    found = current()
    print(json.dumps(found, indent=2))
    if "--write" in sys.argv:
        DIGESTS.write_text(json.dumps(found, indent=2) + "\n")
