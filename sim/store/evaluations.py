"""Stored evaluations: the graded interview answers of a run, kept beside its log in the same file.

``agentville evaluate`` re-lives a run to a moment, asks its residents their
questions and grades the answers (``sim.lab.evaluation``); what it found is
kept here so the dashboard and later readers show it without asking again.
An evaluation is derived, never part of the run's log: the events table
stays the run's one truth. Like the answer cache, this module owns its table
and creates it on a writable connection; a read-only reader (the dashboard)
finds none in an older store and says so.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS evaluations (
    run_id     TEXT NOT NULL,
    at         REAL NOT NULL,
    seed       INTEGER NOT NULL,
    model      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    answers    TEXT NOT NULL,
    facts      TEXT NOT NULL,
    PRIMARY KEY (run_id, at, seed, model)
);
"""


def save(db: sqlite3.Connection, run_id: str, *, at: float, seed: int, model: str, answers: list[dict[str, Any]],
         facts: dict[str, Any]) -> None:
    """Keep one evaluation (an older one of the same run, moment, seed and model is replaced)."""
    with db:
        db.executescript(SCHEMA)
        db.execute("INSERT OR REPLACE INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (run_id, at, seed, model, dt.datetime.now().isoformat(timespec="seconds"),
                    json.dumps(answers, ensure_ascii=False), json.dumps(facts, ensure_ascii=False)))


def latest(db: sqlite3.Connection, run_id: str) -> dict[str, Any] | None:
    """The newest evaluation of a run (answers and facts read back), or None when it was never evaluated."""
    try:
        row = db.execute("SELECT at, seed, model, created_at, answers, facts FROM evaluations WHERE run_id = ? "
                         "ORDER BY created_at DESC, at DESC LIMIT 1", (run_id,)).fetchone()
    except sqlite3.OperationalError as exc:  # a store no evaluation was written to has no table
        if "no such table" in str(exc):
            return None
        raise
    if row is None:
        return None
    at, seed, model, created, answers, facts = row
    return {"run_id": run_id, "at": at, "seed": seed, "model": model, "created_at": created,
            "answers": json.loads(answers), "facts": json.loads(facts)}
