"""The reference paper's Valentine's Day study, on Smallville.

Only Isabella's persona knows about her party (Feb 14, 5-7 pm, Hobbs Cafe),
and only Sam Moore's that he is running for mayor. Two game days later: how
far did each piece of news spread, how much denser is the web of who knows
whom, and how many of those who knew about the party came?

It prints the paper's table beside this run's, then, for each fact, who
heard it from whom, when and where (the diffusion tree, from the log).

Usage: python experiments/valentines.py [--scenario YAML] [--llm fake|embedded|transformers|openai] [--model M]
       [--judge keywords|model] [--db PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from agentville.sim.analysis import provenance
from agentville.sim.core import events
from agentville.sim.lab import metrics
from agentville.sim.lab.experiment import Experiment

SCENARIO = Path(__file__).resolve().parent.parent / "worlds" / "smallville.yaml"
FACTS = {
    "party": ("Isabella Rodriguez is throwing a Valentine's Day party at Hobbs Cafe", ["valentine", "party"]),
    "candidacy": ("Sam Moore is running for mayor", ["mayor", "candidacy"]),
}
PARTY_PLACE, PARTY_START, PARTY_END = "Hobbs Cafe", dt.datetime(2023, 2, 14, 17), dt.datetime(2023, 2, 14, 19)
PAPER = {"party known, start": "4%", "party known, end": "52%", "candidacy known, start": "4%",
         "candidacy known, end": "32%", "network density, start": "0.167", "network density, end": "0.74",
         "invited who attended": "5 of 12"}


def shares(exp: Experiment, judge: str | None) -> dict[str, float]:
    """The share of residents who know each fact now."""
    return {fact: metrics.share(metrics.knows(exp, text, words, judge)) for fact, (text, words) in FACTS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(SCENARIO), help="scenario file (default: Smallville)")
    parser.add_argument("--llm", default=None, help="backend (default: the scenario's, else the embedded model)")
    parser.add_argument("--model", default=None, help="model for --llm transformers|openai")
    parser.add_argument("--db", default="runs/valentines.db", help="event store to write (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--judge", choices=metrics.JUDGES, default=None,
                        help="who decides that an agent knows a fact (default: keywords with --llm fake, else model)")
    args = parser.parse_args(argv)
    wall = time.monotonic()
    with Experiment(args.scenario, db=args.db, llm=args.llm, model=args.model, seed=args.seed) as exp:
        agents = len(exp.sim.agents)
        exp.run("+10m")  # everyone has their persona's memories
        start = shares(exp, args.judge)
        density_start = metrics.density(metrics.acquaintances(exp), agents)
        exp.run(PARTY_START)
        invited = set(metrics.knows(exp, *FACTS["party"], args.judge).query("knows")["agent"]) - {"Isabella Rodriguez"}
        exp.run(PARTY_END)
        attended = set(metrics.attendance(exp.events(kinds=[*events.WHERE_LOCATED, events.MOVE]), PARTY_PLACE,
                                          metrics.seconds(exp, PARTY_START), metrics.seconds(exp, PARTY_END)))
        exp.run(exp.scenario.start + dt.timedelta(days=2))
        end = shares(exp, args.judge)
        density_end = metrics.density(metrics.acquaintances(exp), agents)
        log = exp.events()
        model = exp.sim.llm.model_id
        personas = provenance.persona_texts(log, exp.scenario.personas)  # what they knew at the start
    spent = metrics.cost(log, time.monotonic() - wall)
    ours = {"party known, start": f"{start['party']:.0%}", "party known, end": f"{end['party']:.0%}",
            "candidacy known, start": f"{start['candidacy']:.0%}", "candidacy known, end": f"{end['candidacy']:.0%}",
            "network density, start": f"{density_start:.3f}", "network density, end": f"{density_end:.3f}",
            "invited who attended": f"{len(invited & attended)} of {len(invited)}"}
    print(f"Valentine's Day study: {Path(args.scenario).stem}, {agents} agents, 2 game days, model {model}")
    print(f"{'measure':<26} {'paper':>8} {'this run':>10}")
    for key in PAPER:
        print(f"{key:<26} {PAPER[key]:>8} {ours[key]:>10}")
    print(f"attended: {', '.join(sorted(invited & attended)) or 'nobody'}")
    for fact, (_, words) in FACTS.items():
        spread = metrics.diffusion(log, words, personas)
        told = spread[spread["how"] == "conversation"]
        print(f"\nHow the {fact} spread: {len(spread)} of {agents} knew it, {len(told)} by conversation")
        print(metrics.tree_text(spread) or "  (nobody knew it)")
    print(f"cost: {spent['calls']:,} calls, {spent['tokens']:,} tokens, {spent['wall_s']:.0f} s; log: {args.db}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
