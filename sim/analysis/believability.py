"""Interview answers graded into tables: one row per answer, one per category, and the hallucinations.

``graded(quiz, answers)`` puts every answer beside its question, the expected
answer (the ground truth, from the log) and its grade; ``categories`` counts
the grades per category (the paper's five) with a score where right counts 1
and partly 1/2; ``hallucination_rate`` is the share of answers that made up a
person or place. Nothing here asks a model: the answers come from
``sim.lab.evaluation``, which re-lives a run and asks its residents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from .grading import DOES_NOT_KNOW, GRADES, PARTLY, RIGHT, WRONG, grade
from .questions import CATEGORIES, Quiz

ANSWER_COLUMNS = ["agent", "category", "question", "expected", "answer", "grade", "found", "missed", "wrong",
                  "hallucinations", "evidence"]
CATEGORY_COLUMNS = ["category", "questions", *GRADES, "score"]
ALL = "all"
POINTS = {RIGHT: 1.0, PARTLY: 0.5, WRONG: 0.0, DOES_NOT_KNOW: 0.0}


def graded(quiz: Quiz, answers: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Every answer (``answers[agent][i]`` answers ``quiz.questions[agent][i]``) with its ground truth and grade."""
    rows = []
    for agent, questions in quiz.questions.items():
        for question, answer in zip(questions, answers[agent], strict=True):
            mark = grade(question, answer, quiz.town)
            rows.append([agent, question.category, question.text, question.answer, answer, mark.grade,
                         list(mark.found), list(mark.missed), list(mark.wrong), list(mark.hallucinations),
                         list(question.evidence)])
    return pd.DataFrame(rows, columns=ANSWER_COLUMNS)


def categories(answers: pd.DataFrame, grade: str = "grade") -> pd.DataFrame:
    """Per category (in the paper's order, then all together): how many answers got each grade, and the score.

    ``grade``: the column read ("judge" for a model judge's grades)."""
    rows = []
    for category in (*CATEGORIES, ALL):
        chosen = answers if category == ALL else answers[answers["category"] == category]
        counts = chosen[grade].value_counts()
        n = len(chosen)
        score = sum(POINTS[g] * int(counts.get(g, 0)) for g in GRADES) / n if n else math.nan
        rows.append([category, n, *(int(counts.get(g, 0)) for g in GRADES), score])
    return pd.DataFrame(rows, columns=CATEGORY_COLUMNS)


def hallucination_rate(answers: pd.DataFrame) -> float:
    """Share of answers naming a person or place that does not exist or the agent never knew (NaN: none)."""
    if answers.empty:
        return math.nan
    return float(answers["hallucinations"].map(bool).mean())


def worst(answers: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The answers to look at first: made-up names, then wrong, then does-not-know, then partly (log order kept)."""
    order = {WRONG: 1, DOES_NOT_KNOW: 2, PARTLY: 3, RIGHT: 4}
    rank = answers["grade"].map(order) - answers["hallucinations"].map(bool).astype(int)
    return answers.assign(_rank=rank).sort_values("_rank", kind="stable").drop(columns="_rank").head(n)


def digest(table: pd.DataFrame, rate: float) -> str:
    """One line: the score of each category and the hallucination rate ("self 0.90 · memory 0.40 · ...")."""
    scores = " · ".join(f"{row.category} {_figure(row.score)}" for row in table.itertuples())
    return f"{scores} · made-up names {_figure(rate)}"


def _figure(value: float) -> str:
    return "n/a" if value != value else f"{value:.2f}"
