"""Shared fixtures: a tiny valid scenario to mutate, and paths to the bundled worlds."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

# Tiny random models have near-equal logits everywhere; in bfloat16 (the CPU default where the CPU has native
# bf16) rounding would flip their greedy answers between batch layouts. Tests that compare answers across
# layouts pin float32; the embedded model's own tests set what they need.
os.environ.setdefault("AGENTVILLE_DTYPE", "float32")

ROOT = Path(__file__).resolve().parent.parent
WORLDS = ROOT / "worlds"

TINY = textwrap.dedent("""\
    name: Tiny town
    start: 2023-02-13T07:00
    seed: 3
    places:
      - name: Cafe
        xy: [0, 0]
        areas:
          - name: hall
            objects: [counter, table]
      - name: Home
        xy: [10, 0]
        areas:
          - name: bedroom
            objects: [bed]
          - name: kitchen
            objects: [stove]
      - name: Park
        xy: [5, 5]
        areas:
          - name: lawn
    paths:
      - {between: [Cafe, Home], minutes: 10}
      - {between: [Home, Park], minutes: 3}
      - {between: [Park, Cafe], minutes: 4}
    personas:
      - name: Ann
        age: 30
        traits: cheerful
        home: "Home: bedroom"
        memories: Ann runs the cafe; Ann likes the park
        routine:
          - {at: "07:00", activity: waking up, place: "home"}
          - {at: "08:00", activity: opening the cafe, place: "Cafe: hall: counter"}
          - {at: "12:00", activity: eating lunch, place: "Park: lawn"}
          - {at: "13:00", activity: serving coffee, place: "Cafe: hall: counter"}
          - {at: "20:00", activity: sleeping, place: "Home: bedroom: bed"}
      - name: Bob
        age: 41
        traits: quiet
        home: "Home: kitchen"
        routine:
          - {at: "07:30", activity: cooking breakfast, place: "Home: kitchen: stove"}
          - {at: "09:00", activity: reading, place: "Cafe: hall: table"}
          - {at: "22:00", activity: sleeping, place: "Home: bedroom: bed"}
    interventions:
      - at: 2023-02-13T09:30
        agent: Bob
        text: I should ask Ann about the party.
    """)


@pytest.fixture
def tiny_path(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture
def tiny():
    import tempfile

    from agentville.sim.scenario import load_scenario

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tiny.yaml"
        path.write_text(TINY)
        return load_scenario(path)


def wait_for_events(db: Path, count: int, timeout_s: float = 60) -> int:
    """Poll a store being written by another process until it holds ``count`` events (or time runs out)."""
    import sqlite3
    import time

    seen, deadline = 0, time.monotonic() + timeout_s
    while seen < count and time.monotonic() < deadline:
        time.sleep(0.1)
        if db.exists():
            try:
                seen = sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute(
                    "SELECT COUNT(*) FROM events").fetchone()[0]
            except sqlite3.OperationalError:
                seen = 0
    return seen


def kill_after_events(proc, db: Path, count: int) -> None:
    """SIGKILL a run in ``proc`` once its store holds ``count`` events (a crash mid-run, nothing flushed)."""
    import os
    import signal

    try:
        wait_for_events(db, count)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()


def error_lines(stderr: str) -> list[str]:
    """A command's stderr without blank lines and the notice of where requests go (said before the first)."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("agentville: requests go to ")]
