"""Engine throughput with the fake backend: how fast the kernel, the bridge and the log are.

Usage: python bench/engine.py [--days 1 3] [--scenario worlds/smallville.yaml]
Prints one table row per run; no model cost is included (the fake answers instantly).
"""

from __future__ import annotations

import argparse
import itertools
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.engine import Simulation  # noqa: E402
from sim.generation import FakeBackend  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402
from sim.store import EventStore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="worlds/smallville.yaml")
    parser.add_argument("--days", type=float, nargs="+", default=[1, 3])
    parser.add_argument("--agents", type=int, nargs="*", default=[],
                        help="also run one day with this many agents (replicas of the scenario's residents)")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    print(f"{'scenario':<24} {'agents':>6} {'sim days':>8} {'events':>8} {'wall s':>8} {'events/s':>10} "
          f"{'sim h / wall s':>14} {'db MiB':>7} {'calls/agent-day':>15}")
    runs = [(scenario, days) for days in args.days] + [(replicated(scenario, n), 1.0) for n in args.agents]
    for scenario, days in runs:
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "bench.db"
            with EventStore(db) as store:
                sim = Simulation(scenario, store=store, backend=FakeBackend())
                start = time.perf_counter()
                summary = sim.run(scenario.start + dt.timedelta(days=days))
                wall = time.perf_counter() - start
            size = sum(p.stat().st_size for p in Path(folder).iterdir()) / 2**20
        print(f"{scenario.name[:24]:<24} {summary.agents:>6} {days:>8g} {summary.events:>8} {wall:>8.2f} "
              f"{summary.events / wall:>10.0f} {days * 24 / wall:>14.0f} {size:>7.1f} "
              f"{summary.llm_calls / summary.agents / days:>15.1f}", flush=True)


def replicated(scenario, agents: int):
    """The scenario with ``agents`` residents: copies of its personas, numbered, sharing their homes."""
    personas = [p.model_copy(update={"name": f"{p.name} {i // len(scenario.personas) + 1}"})
                for i, p in zip(range(agents), itertools.cycle(scenario.personas))]
    return scenario.model_copy(update={"personas": personas, "interventions": []})


if __name__ == "__main__":
    main()
