"""What the writer's checkpoints cost, and what a copy of the .db alone holds while a run is written.

Usage: python bench/store_checkpoint.py [--events 40000] [--payload 2000] [--every 0 1 2 5]
                                        [--live-s 12] [--scenario worlds/smallville.yaml] [--hours 4]
                                        [--repeat 3] [--dir FOLDER]

Three tables, each comparing the old setting (no checkpoints but SQLite's own
one every 16,000 pages of log) with checkpoints every N seconds after a commit
(``sim.store.checkpoints``):

1. Raw appends: ``--events`` events of ``--payload`` bytes through an
   ``EventWriter`` at full speed (batches of 5000 or 1 s), the fastest of ``--repeat``: wall time,
   events/s, checkpoints made and their mean time, and the main file's and the
   log's sizes after a quarter, half, three quarters and all of the events.
2. A live run: 20 events of 10 KB a second for ``--live-s`` seconds, committed
   every second (a language-model run's pace); every second the .db alone is
   copied and the copy opened: the rows it holds against the rows committed.
3. A fake-backend run of ``--scenario`` for ``--hours`` (the fastest of
   ``--repeat``, closing the store included): wall time and events/s.

The store is written in ``--dir`` (default: a temporary folder on /tmp); put it on
the disk the runs go to, since a checkpoint's cost is mostly its syncs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agentville.sim.generation import FakeBackend
from agentville.sim.runtime.runner import assemble
from agentville.sim.scenario import load_scenario
from agentville.sim.store.eventstore import EventStore

OLD = math.inf  # no checkpoints of our own: the setting before


def label(every: float) -> str:
    return "old (16000 pages)" if every == OLD else f"every {every:g} s"


def sizes(db: Path) -> str:
    """Main file and log sizes in MiB."""
    log = db.with_name(db.name + "-wal")
    return f"{db.stat().st_size / 2**20:.1f}/{(log.stat().st_size if log.exists() else 0) / 2**20:.1f}"


def open_store(db: Path, every: float) -> tuple[EventStore, list[float]]:
    """A writable store checkpointing every ``every`` seconds, and the list the time of each checkpoint goes to."""
    store = EventStore(db)
    times: list[float] = []
    checkpoints = store.checkpoints
    assert checkpoints is not None
    if every == OLD:
        store.checkpoints = None
        return store, times
    checkpoints.every_s = every
    made = checkpoints.now

    def timed() -> None:
        start = time.perf_counter()
        made()
        times.append(time.perf_counter() - start)

    checkpoints.now = timed  # type: ignore[method-assign]
    return store, times


def raw_appends(folder: Path, every: float, events: int, payload: int, repeat: int) -> str:
    """The fastest of ``repeat`` writes of ``events`` events; checkpoints and sizes of the last one."""
    best = math.inf
    for attempt in range(repeat):
        db = folder / f"raw-{every}-{attempt}.db"
        store, times = open_store(db, every)
        run_id = store.start_run(scenario="bench", seed=1, sim_start=dt.datetime(2023, 2, 13))
        writer = store.writer(run_id)
        text, points = "x" * payload, []
        start = time.perf_counter()
        for seq in range(1, events + 1):
            writer.append(seq, float(seq), "note", "Ann", {"text": text})
            if seq % (events // 4) == 0:
                writer.flush()
                points.append(sizes(db))
        best = min(best, time.perf_counter() - start)
        store.close()
        db.unlink()
    mean = f"{1000 * sum(times) / len(times):.1f}" if times else "-"
    return (f"{label(every):<18} {best:>7.2f} {events / best:>9.0f} {len(times):>6} {mean:>8} "
            + " ".join(f"{p:>11}" for p in points))


def copy_holds(db: Path, folder: Path) -> int:
    """The events a copy of the .db alone holds, opened as a store (0: not a readable store)."""
    copy = folder / "copy.db"
    shutil.copyfile(db, copy)
    try:
        with EventStore(copy, read_only=True) as store:
            return store.count_events(store.run()["run_id"])
    except (sqlite3.DatabaseError, LookupError):
        return 0
    finally:
        copy.unlink()


def live_run(folder: Path, every: float, seconds: int) -> str:
    db = folder / f"live-{every}.db"
    store, times = open_store(db, every)
    run_id = store.start_run(scenario="bench", seed=1, sim_start=dt.datetime(2023, 2, 13))
    writer = store.writer(run_id, max_delay_s=1.0)
    seq, held = 0, []
    for _second in range(seconds):
        for _ in range(20):
            seq += 1
            writer.append(seq, float(seq), "note", "Ann", {"text": "x" * 10_000})
            time.sleep(0.05)
        held.append(f"{copy_holds(db, folder)}/{store.count_events(run_id)}")
    store.close()
    mean = f"{1000 * sum(times) / len(times):.1f}" if times else "-"
    return f"{label(every):<18} {len(times):>6} {mean:>8} " + " ".join(
        f"{held[i]:>9}" for i in range(1, seconds, max(1, seconds // 6)))


def fake_run(folder: Path, every: float, scenario_path: str, hours: float, repeat: int) -> str:
    """The fastest of ``repeat`` runs (the first of a process also pays for warming up)."""
    scenario = load_scenario(scenario_path)
    best = math.inf
    for attempt in range(repeat):
        store, times = open_store(folder / f"fake-{every}-{attempt}.db", every)
        sim = assemble(scenario, store=store, backend=FakeBackend(), cache_mode="off")
        start = time.perf_counter()
        summary = sim.run(scenario.start + dt.timedelta(hours=hours))
        store.close()
        best = min(best, time.perf_counter() - start)
        Path(store.path).unlink()
    return f"{label(every):<18} {summary.events:>7} {best:>7.2f} {summary.events / best:>9.0f} {len(times):>6}"


def table(title: str, header: str, row: Callable[[float], str], settings: list[float]) -> None:
    print(f"\n{title}\n{header}", flush=True)
    for every in settings:
        print(row(every), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--payload", type=int, default=2000, help="bytes of text per event")
    parser.add_argument("--every", type=float, nargs="*", default=[0, 1, 2, 5], help="checkpoint cadences (s)")
    parser.add_argument("--live-s", type=int, default=12)
    parser.add_argument("--scenario", default="worlds/smallville.yaml")
    parser.add_argument("--hours", type=float, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="fake-backend runs per setting (the fastest counts)")
    parser.add_argument("--dir", default=None, help="where the stores are written (default: a temporary folder)")
    args = parser.parse_args()
    settings = [OLD, *args.every]
    with tempfile.TemporaryDirectory(dir=args.dir) as name:
        folder = Path(name)
        table(f"Raw appends: {args.events} events of {args.payload} bytes, the fastest of {args.repeat}",
              f"{'checkpoints':<18} {'wall s':>7} {'events/s':>9} {'made':>6} {'mean ms':>8} "
              f"{'main/log MiB at 1/4, 1/2, 3/4, all':>47}",
              lambda every: raw_appends(folder, every, args.events, args.payload, args.repeat), settings)
        table(f"Live run: 20 events of 10 KB a second for {args.live_s} s; events a copy of the .db alone holds / "
              f"events committed, over time",
              f"{'checkpoints':<18} {'made':>6} {'mean ms':>8} copy/committed",
              lambda every: live_run(folder, every, args.live_s), settings)
        fake_run(folder, OLD, args.scenario, 1, 1)  # warm up: imports, caches
        table(f"Fake-backend run: {args.scenario}, {args.hours:g} h, the fastest of {args.repeat} (close included)",
              f"{'checkpoints':<18} {'events':>7} {'wall s':>7} {'events/s':>9} {'made':>6}",
              lambda every: fake_run(folder, every, args.scenario, args.hours, args.repeat), settings)


if __name__ == "__main__":
    main()
