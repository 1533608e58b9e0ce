"""A run's latest evaluation as the Believability tab shows it: the graded interview answers, chosen and laid out
(no Streamlit).

``agentville evaluate`` keeps its graded answers in the store
(``sim.store.evaluations``); this module reads the newest of the run through
the dashboard's read-only connection (a store never evaluated, or older than
evaluations, has none), narrows the answers to a resident and a category, and
lays them out as text for tables. What to run when there is none is
``evaluate_command``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from agentville.dashboard.runlog import RunLog, open_store
from agentville.sim.analysis.believability import ALL, ANSWER_COLUMNS
from agentville.sim.store import evaluations

LISTS = ["found", "missed", "wrong", "hallucinations", "evidence"]  # lists of names, facts and seqs in an answer
JUDGE = "judge"  # a model judge's grade, beside the grader's (only in evaluations made with a judge)
SHOWN = ["agent", "category", "question", "expected", "answer", "grade", JUDGE, "found", "missed", "wrong",
         "hallucinations", "evidence"]


@dataclass(frozen=True)
class Interviews:
    """An evaluation of a run: its residents interviewed as they were at ``at``, answered by ``model``."""

    at: dt.datetime  # simulated
    model: str
    seed: int
    created_at: str  # when it was evaluated (wall clock, ISO)
    answers: pd.DataFrame  # ANSWER_COLUMNS, and JUDGE when a judge graded them too

    @property
    def judged(self) -> bool:
        return JUDGE in self.answers.columns


def latest(log: RunLog) -> Interviews | None:
    """The run's newest evaluation in its store, or None (never evaluated; a log not read from a store)."""
    path = log.run.get("db_path")
    if path is None:
        return None
    with open_store(path) as store:
        found = evaluations.latest(store.db, log.run["run_id"])
    if found is None:
        return None
    answers = pd.DataFrame(found["answers"])
    columns = [*ANSWER_COLUMNS, *([JUDGE] if JUDGE in answers.columns else [])]
    answers = answers.reindex(columns=columns) if len(answers) else pd.DataFrame(columns=columns)
    return Interviews(log.at(float(found["at"])), str(found["model"]), int(found["seed"]), str(found["created_at"]),
                      answers)


def chosen(answers: pd.DataFrame, agent: str = ALL, category: str = ALL) -> pd.DataFrame:
    """The answers of one resident and one category (``ALL``: every one)."""
    keep = pd.Series(True, index=answers.index)
    if agent != ALL:
        keep &= answers["agent"] == agent
    if category != ALL:
        keep &= answers["category"] == category
    return answers[keep]


def shown(answers: pd.DataFrame) -> pd.DataFrame:
    """Answers as a table's text: the lists joined with commas (evidence: the seqs of the events that say so)."""
    table = answers[[c for c in SHOWN if c in answers.columns]].copy()
    for column in LISTS:
        table[column] = [", ".join(str(x) for x in items) if isinstance(items, list) else "" for items in table[column]]
    return table.reset_index(drop=True)


def evaluate_command(log: RunLog) -> str:
    """The command that evaluates this run, naming its store by file name (the page shows no server folders) and
    the run when it is not the store's newest (``agentville evaluate`` takes the newest)."""
    from agentville.sim.cli.hints import command  # the command line's own spelling; loaded when first needed

    path = log.run.get("db_path")
    if path is None:  # a log not read from a store: nothing to name
        return command("evaluate", "RUN.db")
    with open_store(path) as store:
        newest = store.run()["run_id"]
    run = [] if newest == log.run["run_id"] else ["--run", log.run["run_id"]]
    return command("evaluate", Path(path).name, *run)
