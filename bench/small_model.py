"""What a small model costs and how well it keeps its shape: the figures issue 28's targets name.

Usage: python bench/small_model.py [--scenario worlds/the_ville_3.yaml] [--until +2h] [--llm embedded]
                                   [--db PATH] [--evaluate] [--from-db PATH]

Runs the scenario as ``agentville run`` does (``make demo`` is the_ville_3 for
two simulated hours on the embedded model), then reads the log and prints one
table: the simulation's wall time and model calls, parse failures and fallbacks
per 100 calls (refusals of ungrounded text counted apart: they are answers that
parsed and named what nobody said), importance (where it came from, how many
distinct values, the calibration's rank correlation), reflections per
agent-day, and where the wall time went (prompt tokens computed, tokens
decoded, the model's summed latency and time queued, batch size). ``--evaluate`` adds the
interview scores and the hallucination rate of ``agentville evaluate``.
``--from-db`` reads a run already made instead of running one.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agentville.sim.store.eventstore import EventStore

WAKING_HOURS = 16  # an agent-day is a waking day: the paper's two to three reflections happen in it
GROUNDING = re.compile(r"nobody said|not grounded|never met|not in the town", re.I)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="worlds/the_ville_3.yaml")
    parser.add_argument("--until", default="+2h")
    parser.add_argument("--llm", default="embedded")
    parser.add_argument("--db", help="store to write (default: a temporary file)")
    parser.add_argument("--from-db", help="read the newest run of this store instead of running")
    parser.add_argument("--evaluate", action="store_true", help="also interview the residents (agentville evaluate)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="agentville-bench-")
    wall = None
    if args.from_db:
        db = Path(args.from_db)
    else:
        db = Path(args.db or Path(folder) / "small_model.db")
        wall = run(args.scenario, args.until, args.llm, db)
    with EventStore(db) as store:
        figures = measure(store, store.run()["run_id"], wall)
    for name, value in figures.items():
        print(f"{name:<44} {value}")
    if args.evaluate:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "evaluate", str(db), "--no-save"],
                              capture_output=True, text=True)
        print(done.stdout.rstrip() or done.stderr.rstrip())
        print(f"{'evaluate wall s':<44} {time.perf_counter() - started:.1f}")


def run(scenario: str, until: str, llm: str, db: Path) -> float | None:
    """``agentville run`` as a user starts it; the simulation's wall seconds from its summary."""
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", scenario, "--until", until,
                           "--llm", llm, "--db", str(db), "--no-progress"], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"run failed ({done.returncode})")
    found = re.search(r"in ([\d.]+) s of wall time", done.stdout)
    return float(found.group(1)) if found else None


def measure(store: EventStore, run_id: str, wall: float | None) -> dict[str, Any]:
    """The table's figures, read from one run's log."""
    info = store.run(run_id)
    rows = list(store.iter_events(run_id))
    kinds = collections.Counter(row.kind for row in rows)
    calls = [row for row in rows if row.kind == "llm_call"]
    computed = [row for row in calls if not (row.wall or {}).get("cache_hit")]
    failed = [row for row in rows if row.kind == "parse_failed"]
    refused = [row for row in failed if GROUNDING.search(str(row.data.get("reason", "")))]
    fallbacks = [row for row in rows if row.kind == "fallback"]
    memories = [row for row in rows if row.kind == "memory"]
    agents = {row.agent for row in rows if row.kind == "memory"}
    hours = max((row.sim_time for row in rows), default=0.0) / 3600
    by_purpose = collections.Counter(row.data["purpose"] for row in calls)
    per_100 = 100 / max(1, len(calls))
    settings = info.get("settings") or {}
    sources = collections.Counter(str(row.data.get("importance_source", "model")) for row in memories)
    importance = collections.Counter(row.data["importance"] for row in memories)
    prompt = sum(row.data["prompt_tokens"] - int((row.wall or {}).get("prefix_tokens", 0)) for row in computed)
    return {
        "run": f"{info['scenario']} {run_id} ({hours:.1f} simulated hours, {len(agents)} residents)",
        "simulation wall s": f"{wall:.1f}" if wall is not None else "-",
        "model calls (computed, cached)": f"{len(calls)} ({len(computed)}, {len(calls) - len(computed)})",
        "calls by purpose": ", ".join(f"{p} {n}" for p, n in by_purpose.most_common()),
        "parse failures / fallbacks per 100 calls": f"{(len(failed) - len(refused)) * per_100:.1f} / "
                                                    f"{len(fallbacks) * per_100:.1f}",
        "failures by purpose": _by_purpose(failed) or "-",
        "ungrounded answers refused (per 100 calls)": f"{len(refused)} ({len(refused) * per_100:.1f})",
        "importance source": ", ".join(f"{s} {n}" for s, n in sources.most_common()) or "-",
        "importance calibration": _calibration(settings),
        "distinct importance values": f"{len(importance)}: " + " ".join(
            f"{value}x{count}" for value, count in sorted(importance.items())),
        "reflections per agent-day (16 waking h)": f"{_per_agent_day(kinds['reflection'], len(agents), hours):.1f}"
                                                   f" ({kinds['reflection']} reflections)",
        "prompt tokens computed / decoded": f"{prompt:,} / {sum(r.data['output_tokens'] for r in computed):,}",
        "model latency s, summed (queued)": f"{_wall_sum(computed, 'latency_s'):.1f} "
                                            f"({_wall_sum(computed, 'queue_wait_s'):.1f})",
        "mean batch size": f"{_wall_sum(computed, 'batch_size') / max(1, len(computed)):.1f}",
    }


def _wall_sum(rows: list[Any], name: str) -> float:
    return sum(float((row.wall or {}).get(name, 0)) for row in rows)


def _by_purpose(rows: list[Any]) -> str:
    return ", ".join(f"{p} {n}" for p, n in collections.Counter(r.data.get("purpose") for r in rows).most_common())


def _calibration(settings: dict[str, Any]) -> str:
    rho = settings.get("importance_rho")
    source = settings.get("importance_source")
    if source is None:
        return "- (the model rates every memory)"
    return f"{source}" + (f", rho {rho:.2f}" if isinstance(rho, (int, float)) else "")


def _per_agent_day(reflections: int, agents: int, hours: float) -> float:
    waking = min(hours, WAKING_HOURS) or 1.0
    return reflections / max(1, agents) * WAKING_HOURS / waking


if __name__ == "__main__":
    main()
