"""Engine throughput with the fake backend: kernel, cognition, generation bridge and log together.

Usage: python bench/engine.py [--days 1 3] [--agents 100 300 1000 3000 10000] [--hours-at 10000=6]
                              [--real-tokens]
Prints one table row per run. The fake backend answers instantly, so this
measures everything except the model: the cost of the cognitive loop itself
and how it grows with the number of agents. ``--agents N`` builds a larger
town (``sim.scenario.growing``: copies of the scenario's town in a row, each
with its own replicas of the residents, so crowding stays realistic as N
grows) and runs it for a day, or for ``--hours-at N=H`` hours from the start
(a shorter window for the largest towns; its figures are scaled to a day,
and a window from the start holds the busy morning, so they err high).

The columns that matter for scaling: CPU seconds per 1,000 agent-days (flat
when the cost per resident is; CPU time, as wall time on a shared machine
also counts the others' work) and, below the table, the exponent of a fit
cpu ~ agents^k over the grown towns (1 is linear; over 1, something each
agent does reads the whole town). Each run is its own process, so its peak
memory (RSS) is its own. Token counts of the fake backend are words;
``--real-tokens`` re-counts the logged prompts and answers with the embedded
model's tokenizer.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import math
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path

from agentville.sim.generation import FakeBackend
from agentville.sim.runtime.runner import assemble
from agentville.sim.scenario import load_scenario
from agentville.sim.scenario.growing import grown
from agentville.sim.store.eventstore import EventStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="worlds/smallville.yaml")
    parser.add_argument("--days", type=float, nargs="*", default=[1])
    parser.add_argument("--agents", type=int, nargs="*", default=[],
                        help="also run one day with this many agents, in a town grown to fit them")
    parser.add_argument("--hours-at", nargs="*", default=[], metavar="AGENTS=HOURS",
                        help="a shorter window for a grown town (scaled to a day in the table)")
    parser.add_argument("--real-tokens", action="store_true",
                        help="count tokens with the embedded model's tokenizer (slower; needs the model)")
    args = parser.parse_args()
    windows = {int(a): float(h) for a, h in (item.split("=") for item in args.hours_at)}
    print(f"{'scenario':<24} {'agents':>6} {'hours':>5} {'events':>9} {'wall s':>8} {'cpu s':>8} "
          f"{'cpu s/1k agent-days':>19} "
          f"{'events/s':>9} {'peak MiB':>8} {'db MiB':>7} {'calls/agent-day':>15} {'tokens/agent-day':>16}")
    runs = [(None, days * 24) for days in args.days] + [(n, windows.get(n, 24.0)) for n in args.agents]
    grown_rows = []
    spawn = multiprocessing.get_context("spawn")
    for agents, hours in runs:
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:  # its own peak memory
            row = pool.submit(measure, args.scenario, agents, hours, args.real_tokens).result()
        agent_days = row["agents"] * hours / 24
        per_1k = row["cpu"] / agent_days * 1000
        print(f"{row['name'][:24]:<24} {row['agents']:>6} {hours:>5g} {row['events']:>9} {row['wall']:>8.1f} "
              f"{row['cpu']:>8.1f} "
              f"{per_1k:>19,.0f} {row['events'] / row['wall']:>9.0f} {row['peak_mib']:>8,.0f} {row['db_mib']:>7.1f} "
              f"{row['calls'] / agent_days:>15.1f} {row['tokens'] / agent_days:>16,.0f}", flush=True)
        if agents is not None:
            grown_rows.append((row["agents"], row["cpu"] * 24 / hours, hours))
    if len({n for n, _, _ in grown_rows}) >= 2:
        print(f"fit over the grown towns: cpu s per simulated day ~ agents^{exponent(grown_rows):.2f}"
              f" (1.00 is linear){_windows_note(grown_rows)}")


def measure(scenario_file: str, agents: int | None, hours: float, real_tokens: bool) -> dict:
    """One run, in its own process: the scenario (or a town grown to ``agents``) for ``hours`` from its start."""
    scenario = load_scenario(scenario_file)
    if agents is not None:
        scenario = grown(scenario, agents)
    tokenizer = embedded_tokenizer() if real_tokens else None
    with tempfile.TemporaryDirectory() as folder:
        with EventStore(Path(folder) / "bench.db") as store:
            sim = assemble(scenario, store=store, backend=FakeBackend(), cache_mode="off")
            start, cpu = time.perf_counter(), time.process_time()
            summary = sim.run(scenario.start + dt.timedelta(hours=hours))
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            tokens = count_tokens(store, summary.run_id, tokenizer)
        size = sum(p.stat().st_size for p in Path(folder).iterdir()) / 2**20
    return {"name": scenario.name, "agents": summary.agents, "events": summary.events, "wall": wall, "cpu": cpu,
            "calls": summary.llm_calls, "tokens": tokens, "db_mib": size,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def exponent(rows: list[tuple[int, float, float]]) -> float:
    """The least-squares slope of log(cost per day) on log(agents)."""
    xs = [math.log(n) for n, _, _ in rows]
    ys = [math.log(wall) for _, wall, _ in rows]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def _windows_note(rows: list[tuple[int, float, float]]) -> str:
    short = [f"{n:,} ({h:g} h)" for n, _, h in rows if h != 24]
    return f"; scaled from shorter windows: {', '.join(short)}" if short else ""


def count_tokens(store: EventStore, run_id: str, tokenizer) -> int:
    """Prompt plus output tokens of every logged call (words with the fake backend, unless re-counted)."""
    total = 0
    for event in store.iter_events(run_id, kinds=["llm_call"]):
        if tokenizer is None:
            total += event.data["prompt_tokens"] + event.data["output_tokens"]
        else:
            data = event.data
            total += len(tokenizer(data["prompt"])["input_ids"]) + len(tokenizer(data["output"])["input_ids"])
    return total


def embedded_tokenizer():
    from transformers import AutoTokenizer

    from agentville.sim.generation.models import materialize, resolve

    return AutoTokenizer.from_pretrained(materialize(resolve("embedded")))


if __name__ == "__main__":
    main()
