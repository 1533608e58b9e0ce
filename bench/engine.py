"""Engine throughput with the fake backend: kernel, cognition, generation bridge and log together.

Usage: python bench/engine.py [--days 1 3] [--agents 100 300 1000] [--real-tokens]
Prints one table row per run. The fake backend answers instantly, so this
measures everything except the model: the cost of the cognitive loop itself
and how it grows with the number of agents. ``--agents N`` builds a larger
town: copies of the scenario's places joined by paths, each copy with its own
replicas of the residents, so crowding stays realistic as N grows.
Token counts of the fake backend are words; ``--real-tokens`` re-counts the
logged prompts and answers with the embedded model's tokenizer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import tempfile
import time
from pathlib import Path

from agentville.sim.core.location import split_location
from agentville.sim.generation import FakeBackend
from agentville.sim.runtime.runner import assemble
from agentville.sim.scenario import PathSpec, Scenario, load_scenario
from agentville.sim.store.eventstore import EventStore

TOWN_LINK_MINUTES = 15.0  # walk between neighbouring copies of the town


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="worlds/smallville.yaml")
    parser.add_argument("--days", type=float, nargs="*", default=[1])
    parser.add_argument("--agents", type=int, nargs="*", default=[],
                        help="also run one day with this many agents, in a town grown to fit them")
    parser.add_argument("--real-tokens", action="store_true",
                        help="count tokens with the embedded model's tokenizer (slower; needs the model)")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    tokenizer = embedded_tokenizer() if args.real_tokens else None
    print(f"{'scenario':<26} {'agents':>6} {'days':>5} {'events':>9} {'wall s':>8} {'events/s':>9} "
          f"{'db MiB':>7} {'calls/agent-day':>15} {'tokens/agent-day':>16}")
    runs = [(scenario, days) for days in args.days] + [(grown(scenario, n), 1.0) for n in args.agents]
    for scenario, days in runs:
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "bench.db"
            with EventStore(db) as store:
                sim = assemble(scenario, store=store, backend=FakeBackend(), cache_mode="off")
                start = time.perf_counter()
                summary = sim.run(scenario.start + dt.timedelta(days=days))
                wall = time.perf_counter() - start
                tokens = count_tokens(store, summary.run_id, tokenizer)
            size = sum(p.stat().st_size for p in Path(folder).iterdir()) / 2**20
        agent_days = summary.agents * days
        print(f"{scenario.name[:26]:<26} {summary.agents:>6} {days:>5g} {summary.events:>9} {wall:>8.2f} "
              f"{summary.events / wall:>9.0f} {size:>7.1f} {summary.llm_calls / agent_days:>15.1f} "
              f"{tokens / agent_days:>16,.0f}", flush=True)


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


def grown(scenario: Scenario, agents: int) -> Scenario:
    """A town with ``agents`` residents: as many copies of the scenario's town as needed, in a row.

    Copy k's places are named "<place> #k" and its residents "<name> #k";
    each copy keeps its own paths, and neighbouring copies are joined by a
    path between their first places.
    """
    copies = math.ceil(agents / len(scenario.personas))

    names = [p.name for p in scenario.personas]

    def rename(text: str, k: int) -> str:
        """The copy-k twin of a location: its place numbered, rooms named after copy-k residents."""
        if k == 1 or text.strip() == "home":
            return text
        for name in names:
            text = text.replace(f"{name}'s", f"{name} #{k}'s")
        parts = split_location(text)
        return ": ".join([f"{parts[0]} #{k}", *parts[1:]])

    places, paths, personas = [], [], []
    for k in range(1, copies + 1):
        for place in scenario.places:
            areas = [a.model_copy(update={"name": split_location(rename(f"x: {a.name}", k))[1]})
                     for a in place.areas]
            places.append(place.model_copy(update={"name": rename(place.name, k), "areas": areas}))
        for path in scenario.paths:
            paths.append(path.model_copy(update={"between": tuple(rename(p, k) for p in path.between)}))
        if k > 1:
            paths.append(PathSpec(between=(rename(scenario.places[0].name, k - 1), rename(scenario.places[0].name, k)),
                                  minutes=TOWN_LINK_MINUTES))
        for persona in scenario.personas:
            if len(personas) == agents:
                break
            routine = [s.model_copy(update={"place": rename(s.place, k)}) for s in persona.routine]
            personas.append(persona.model_copy(update={
                "name": persona.name if k == 1 else f"{persona.name} #{k}", "home": rename(persona.home, k),
                "routine": routine}))
    return scenario.model_copy(update={"name": f"{scenario.name} x{copies}", "places": places, "paths": paths,
                                       "personas": personas, "interventions": []})


if __name__ == "__main__":
    main()
