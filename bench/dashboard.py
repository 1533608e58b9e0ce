"""Dashboard speed on the log of a 25-agent fake-backend game day.

Usage: python bench/dashboard.py [--db PATH]   (without --db, Smallville is run first, ~5 s)
Prints, per view, the time to compute what it shows at the end of the day and
at a slider position (data rebuilt from events + chart spec built), then the
whole page through Streamlit's AppTest: first render (log load, every tab) and
a slider move. Targets: first render of each view <= 2 s, slider move <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import altair as alt

from agentville.dashboard import data
from agentville.sim import events

ROOT = Path(__file__).resolve().parent.parent


def views(log: data.RunLog, t: float) -> dict[str, callable]:
    agent = log.agents[0]

    def town():
        places = data.place_layout(log)
        agents = data.agent_positions(data.agent_states(log, t), places)
        return alt.Chart(agents).mark_circle().encode(x="x:Q", y="y:Q").to_dict()

    def inspector():
        data.day_plan(log, agent, t)
        stream = data.memories(log, agent, t)
        data.memories(log, agent, t, focus=stream["text"].iloc[-1]) if len(stream) else None
        return data.reflections(log, agent, t)

    def timeline():
        return alt.Chart(data.timeline(log, t)).mark_bar().encode(x="start:T", x2="end:T", y="agent:N").to_dict()

    def generation():
        from agentville.sim.stats import llm_stats

        llm_stats(data.upto(log.kind(events.LLM_CALL), t))
        return data.generation_calls(log, t)

    return {"town map": town, "agent inspector": inspector, "conversations": lambda: data.conversations(log, t),
            "timeline": timeline,
            "relationships": lambda: data.relationship_dot(data.relationships(log, t), log.agents),
            "generation stats": generation}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an event store to measure (default: run Smallville for a day first)")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    db = args.db or str(Path(folder.name) / "smallville.db")
    if not args.db:
        subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", "worlds/smallville.yaml", "--llm", "fake",
                        "--until", "+1d", "--db", db, "--no-progress"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    load = timed(lambda: data.load_run(db))
    log = data.load_run(db)
    print(f"log: {len(log.events):,} events, {len(log.agents)} agents; loading it takes {load:.2f} s")
    print(f"{'view':<18} {'end of day s':>12} {'slider move s':>13}")
    for name, fn in views(log, log.reached).items():
        middle = views(log, log.reached / 2)[name]
        print(f"{name:<18} {timed(fn):>12.3f} {timed(middle):>13.3f}")

    from streamlit.testing.v1 import AppTest

    os.environ["AGENTVILLE_DB"] = db
    test = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    first = timed(test.run)
    warm = timed(test.run)
    move = timed(lambda: test.slider(key="minute").set_value(12 * 60.0).run())
    print(f"whole page (AppTest, all six tabs): first render {first:.2f} s (includes imports and the log load), "
          f"rerun {warm:.2f} s, slider move {move:.2f} s")


if __name__ == "__main__":
    main()
