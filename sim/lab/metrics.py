"""Measures of what happened in a run, after the reference paper's studies.

Offline measures read a run's events (a DataFrame from ``EventStore.events``);
``knows`` questions live agents through an Experiment; ``diffusion`` (from
``provenance``) traces who heard a fact from whom. Everything returns plain
numbers, pandas tables or text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

from agentville.sim.analysis.encounters import conversation_counts as conversation_counts  # re-exported: measures
from agentville.sim.analysis.encounters import conversation_pairs as conversation_pairs  # of the log, kept where
from agentville.sim.analysis.encounters import density as density  # the rubric (sim.analysis) can use them
from agentville.sim.analysis.encounters import presence as presence
from agentville.sim.analysis.provenance import diffusion as diffusion  # re-exported: the provenance of facts
from agentville.sim.analysis.provenance import mentions
from agentville.sim.analysis.provenance import tree_text as tree_text
from agentville.sim.core.events import CONVERSATION_END, LLM_CALL
from agentville.sim.generation import traits_of

if TYPE_CHECKING:
    from agentville.agents.generative import GenerativeAgent
    from agentville.sim.lab.experiment import Experiment

KNOWS_PROMPT = ("{name} remembers:\n{memories}\n\nQuestion: going only by these memories, does {name} know that "
                "{fact}? Answer yes or no.\nAnswer:")
JUDGES = ("keywords", "model")


def knows(exp: Experiment, fact: str, keywords: Iterable[str], judge: str | None = None) -> pd.DataFrame:
    """Does each agent know ``fact``? One row per agent (agent, knows, time).

    What an agent knows is what it remembers plus what its persona says (the
    scenario's ``learned`` and ``currently`` texts and first memories: the
    paper's start values come from exactly those). The ``keywords`` judge
    (deterministic; the default with a backend that does not understand what
    it is asked, such as the fake) says an agent knows the fact when any of
    that text mentions a keyword. The ``model`` judge (the default otherwise)
    asks the model, from the texts that mention a keyword, with a yes/no
    choice whose seed does not disturb the run; an agent none of whose texts
    mention a keyword does not know (no call).
    """
    judge = judge or ("model" if traits_of(exp.sim.llm.backend).understands else "keywords")
    if judge not in JUDGES:
        raise ValueError(f"unknown judge {judge!r}: one of {', '.join(JUDGES)}")
    words = list(keywords)
    rows = []
    for name, agent in exp.agents.items():
        relevant = [t for t in known_texts(agent) if mentions(t, words)]
        verdict = bool(relevant)
        if relevant and judge == "model":
            prompt = KNOWS_PROMPT.format(name=name, fact=fact, memories="\n".join(f"- {t}" for t in relevant[-8:]))
            answer = exp.sim.llm.choice_now(prompt, ("yes", "no"), purpose="knows", agent=name,
                                            seed_key=f"{fact}\x1f{exp.sim.env.now}", default="yes")
            verdict = answer == "yes"
        rows.append({"agent": name, "knows": verdict, "time": exp.now})
    return pd.DataFrame(rows, columns=["agent", "knows", "time"])


def known_texts(agent: GenerativeAgent) -> list[str]:
    """What an agent knows as text: its persona's background and status, then its memories, oldest first."""
    background = [agent.persona.learned.strip(), agent.currently.strip()]
    return [t for t in background if t] + [m.text for m in agent.memory]


def share(table: pd.DataFrame) -> float:
    return float(table["knows"].mean()) if len(table) else 0.0


def acquaintances(exp: Experiment) -> set[frozenset[str]]:
    """Who knows whom: an agent whose persona or memories name another (by full name), plus everyone who has talked."""
    residents = exp.agents
    names = list(residents)
    edges: set[frozenset[str]] = set()
    for name, agent in residents.items():
        text = " ".join(known_texts(agent))
        edges |= {frozenset((name, other)) for other in names if other != name and other in text}
    if exp.run_id is not None:
        edges |= conversation_pairs(exp.events(kinds=[CONVERSATION_END]))
    return {e for e in edges if len(e) == 2}


def attendance(events: pd.DataFrame, place: str, start: float, end: float) -> list[str]:
    """Agents at ``place`` at some moment between ``start`` and ``end`` (simulated seconds)."""
    stays = presence(events)
    there = stays[(stays["place"] == place) & (stays["start"] < end) & (stays["end"] > start)]
    return sorted(there["agent"].unique())


def cost(events: pd.DataFrame, wall_s: float | None = None) -> dict[str, float]:
    """Calls, tokens and (if given) wall time of a run."""
    calls = events[events["kind"] == LLM_CALL]
    prompt = sum(d.get("prompt_tokens", 0) for d in calls["data"])
    output = sum(d.get("output_tokens", 0) for d in calls["data"])
    result = {"calls": len(calls), "prompt_tokens": prompt, "output_tokens": output, "tokens": prompt + output}
    if wall_s is not None:
        result["wall_s"] = round(wall_s, 2)
    return result


def seconds(exp: Experiment, moment: dt.datetime) -> float:
    return exp.sim.clock.seconds(moment)
