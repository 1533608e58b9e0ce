"""Holding a run to a pace: so many simulated minutes per wall second, never faster.

A fake backend covers a day in a second, too fast to watch. A paced run
sleeps between steps of ``STEP_S`` simulated seconds whenever it is ahead of
the pace, and commits its log at least every ``COMMIT_S`` wall seconds, so a
live dashboard sees the town move at human speed. Pacing only waits: what
the run logs is the same at any pace.
"""

from __future__ import annotations

import time
from collections.abc import Callable

STEP_S = 60.0  # simulated seconds between checks of the pace (a dashboard shows minutes)
COMMIT_S = 1.0  # wall seconds a paced run's events may wait before the dashboard can read them


class Pace:
    """The wall clock a paced run keeps to, from the simulated moment it started."""

    def __init__(self, minutes_per_s: float, start: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if not minutes_per_s > 0:
            raise ValueError(f"a pace is a positive number of simulated minutes per second (got {minutes_per_s})")
        self.sim_per_s = 60.0 * minutes_per_s
        self.start, self.clock, self.sleep = start, clock, sleep
        self.wall_start = self.last_commit = clock()

    def next_stop(self, now: float, end: float) -> float:
        """The next simulated moment to check the pace at: the next whole step, at most ``end``."""
        return min(now + STEP_S - now % STEP_S, end)

    def keep(self, reached: float, commit: Callable[[], None]) -> None:
        """Sleep until the wall clock catches up with ``reached``, committing first when a wall second is due."""
        ahead = self.wall_start + (reached - self.start) / self.sim_per_s - self.clock()
        if ahead >= COMMIT_S or self.clock() - self.last_commit >= COMMIT_S:
            commit()
            self.last_commit = self.clock()
        if ahead > 0:
            self.sleep(ahead)
