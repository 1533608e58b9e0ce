"""Conditions side by side: the paper's ablations, or several models, on one scenario, seed and length.

Each condition is a run of the same scenario (same seed, same end) in one
store, evaluated the same way at its end (``sim.lab.evaluation``); the table
has one row per condition: the interview score per category, the share of
answers with made-up names, a few rubric figures, and what it cost in model
calls. The ablations are the paper's four (Park et al. 2023, Table 1, whose
TrueSkill ratings from human judges are printed beside ours for the order
they found): full > no reflection > no reflection and planning > no memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from agentville.sim.analysis.questions import CATEGORIES
from agentville.sim.analysis.ranking import ranking
from agentville.sim.generation import Backend
from agentville.sim.runtime.runner import open_run
from agentville.sim.scenario.schema import Scenario

from .evaluation import Evaluation, evaluate_run


@dataclass(frozen=True)
class Condition:
    """One arm of a comparison: a name, a backend and model, and cognition switches."""

    name: str
    llm: str | None = None
    model: str | None = None
    cognition: dict[str, bool] = field(default_factory=dict)
    paper: float | None = None  # the paper's TrueSkill rating of this condition (ablations only)


ABLATIONS = (
    Condition("full", paper=29.89),
    Condition("no reflection", cognition={"reflection": False}, paper=26.88),
    Condition("no reflection, no planning", cognition={"reflection": False, "planning": False}, paper=25.64),
    Condition("no memory", cognition={"memory": False, "reflection": False, "planning": False}, paper=21.21),
)
RUBRIC_COLUMNS = ("places per day", "plan adherence", "repeated lines", "ungrounded texts")


def ablations(llm: str | None = None, model: str | None = None) -> list[Condition]:
    """The paper's four conditions on one backend and model."""
    return [Condition(c.name, llm, model, c.cognition, c.paper) for c in ABLATIONS]


def models(llms: Sequence[str], models: Sequence[str | None]) -> list[Condition]:
    """One condition per ``--llm`` (with the ``--model`` of the same position, if any)."""
    named = list(models) + [None] * (len(llms) - len(models))
    conditions: list[Condition] = []
    for llm, model in zip(llms, named, strict=True):
        name = f"{llm}:{model}" if model else llm
        taken = sum(c.name.split(" #")[0] == name for c in conditions)
        conditions.append(Condition(f"{name} #{taken + 1}" if taken else name, llm, model))
    return conditions


def compare(scenario: str | Path | Scenario, conditions: Sequence[Condition], *, db: str | Path, until: dt.datetime,
            seed: int | None = None, run: Callable[..., Any] | None = None, judge: Backend | None = None,
            **servers: Any) -> tuple[pd.DataFrame, list[Evaluation]]:
    """Run every condition to ``until`` in ``db`` and evaluate each at its end; the table and the evaluations.

    ``run(sim, until)`` drives one run (a progress bar from the CLI); ``judge`` grades every answer too;
    ``servers``: ``base_urls``, ``api_key_env``. The table ends with each condition's Bradley–Terry strength
    from answers paired across conditions (``sim.analysis.ranking``), by grades and by the judge's.
    """
    found = []
    rows = []
    for condition in conditions:
        with open_run(scenario, db=db, seed=seed, llm=condition.llm, model=condition.model,
                      cognition=condition.cognition, **servers) as sim:
            summary = run(sim, until) if run else sim.run(until)
        evaluation = evaluate_run(db, summary.run_id, llm=condition.llm, model=condition.model, judge=judge,
                                  **servers)
        found.append(evaluation)
        rows.append(row(condition, evaluation, summary.llm_calls))
    table = pd.DataFrame(rows)
    for grade, column in (("grade", "pairwise"), ("judge", "pairwise (judge)")):
        if judge is None and grade == "judge":
            continue
        strengths = ranking({c.name: e.answers for c, e in zip(conditions, found, strict=True)}, grade)
        table[column] = table["condition"].map(dict(zip(strengths["condition"], strengths["strength"], strict=True)))
    return table, found


def row(condition: Condition, evaluation: Evaluation, run_calls: int) -> dict[str, Any]:
    """One condition's line of the table."""
    scores = dict(zip(evaluation.categories["category"], evaluation.categories["score"], strict=True))
    measures = dict(zip(evaluation.rubric.measures["measure"], evaluation.rubric.measures["value"], strict=True))
    line: dict[str, Any] = {"condition": condition.name, "model": evaluation.model, "run": evaluation.run_id}
    line |= {category: scores[category] for category in (*CATEGORIES, "all")}
    if evaluation.judged is not None:
        line["judge all"] = evaluation.judged["score"].iloc[-1]
    line["made-up names"] = evaluation.hallucination_rate
    line |= {measure: measures.get(measure) for measure in RUBRIC_COLUMNS}
    line["run calls"] = run_calls
    line["interview calls"] = evaluation.questions
    if condition.paper is not None:
        line["paper TrueSkill"] = condition.paper
    return line
