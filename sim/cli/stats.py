"""``agentville stats``: the language-model usage of a run, per purpose."""

from __future__ import annotations

import argparse

from .arguments import Commands, open_store, run_flag


def register(commands: Commands) -> None:
    stats = commands.add_parser(
        "stats", help="language-model usage of a run: calls, tokens/s, latency, cache hits, fallbacks",
        description="Summarise the LLM calls of a run per purpose: calls, tokens, tokens/s, latency "
                    "percentiles, queue wait, cache hit rate and fallbacks.")
    stats.add_argument("db", metavar="DB")
    run_flag(stats)
    stats.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from agentville.sim.analysis.stats import ANSWER_KINDS, fault_counts, format_faults, format_llm_stats, llm_stats

    with open_store(args.db) as store:
        run = store.run(args.run)
        frame = store.events(run["run_id"], kinds=ANSWER_KINDS)
    print(f"Run {run['run_id']} ({run['scenario']}, seed {run['seed']}, {run['status']}), "
          f"model {run['settings'].get('llm', '?')}")
    print(format_llm_stats(llm_stats(frame)))
    if not frame.empty:
        print(format_faults(*fault_counts(frame)))
    return 0
