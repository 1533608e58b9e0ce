"""Checkpoints: the writer copies what it committed from the write-ahead log into the main file, on a cadence.

Without them a live store lives in its ``-wal`` until 64 MB of it pile up
(``wal_autocheckpoint``), so a copy of the ``.db`` alone (a backup, a sync
tool, ``scp``) is an empty store. The writer runs a PASSIVE checkpoint after a
commit once ``EVERY_S`` seconds have passed since the last one (it never waits
for readers, and readers never wait for it), another when a run ends, and a
TRUNCATE one when it closes the store, which leaves an empty log. A copy of the
``.db`` alone then holds every run as of its last checkpoint: at most
``EVERY_S`` seconds (plus one commit) behind, and whole once the run ended.
``bench/store_checkpoint.py`` measures what this costs.
"""

from __future__ import annotations

import sqlite3
import time

EVERY_S = 2.0
"""Seconds between checkpoints of a live run (``bench/store_checkpoint.py``: what a shorter or longer one costs)."""


class Checkpoints:
    """The writer's checkpoints of its connection ``db``; the first is made at once (the schema reaches the file)."""

    def __init__(self, db: sqlite3.Connection, every_s: float | None = None):
        self.db = db
        self.every_s = EVERY_S if every_s is None else every_s
        self.last = 0.0
        self.now()

    def after_commit(self) -> None:
        """A commit was made: copy it into the main file if the last checkpoint is ``every_s`` old."""
        if time.monotonic() - self.last >= self.every_s:
            self.now()

    def now(self) -> None:
        """Copy every committed frame no reader still needs into the main file, waiting for nobody."""
        self._checkpoint("PASSIVE")
        self.last = time.monotonic()

    def close(self) -> None:
        """Copy everything into the main file and empty the log (waiting up to busy_timeout for readers reading)."""
        self._checkpoint("TRUNCATE")

    def _checkpoint(self, mode: str) -> None:
        try:
            self.db.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
        except sqlite3.OperationalError:  # a transaction of this connection is open: the next checkpoint copies it
            pass
