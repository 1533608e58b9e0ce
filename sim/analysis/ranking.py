"""Conditions ranked pairwise, as the paper's human judges did: answer against answer, then Bradley–Terry.

Two conditions (two models, or full against an ablation) were asked
questions made from their own logs, so their questions are alike but not the
same. Each answer is paired with the other condition's answer to the
question in the same place (the same resident, category and turn among that
category's questions); the better grade wins the pair, equal grades share
it. Bradley–Terry strengths are fitted to all the wins by the usual
minorise-maximise updates, with half a win each way between every two
conditions so that a condition that never lost still has a finite strength.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import pandas as pd

from .believability import POINTS

PRIOR = 0.5  # wins each way added between every two conditions
ROUNDS = 500
COLUMNS = ["condition", "pairs", "wins", "win share", "strength"]


def paired_points(answers: pd.DataFrame, grade: str = "grade") -> pd.Series:
    """Each answer's points (right 1, partly 1/2), indexed by (agent, category, turn within the category)."""
    turn = answers.groupby(["agent", "category"]).cumcount()
    points = answers[grade].map(POINTS)
    return pd.Series(points.to_numpy(), index=pd.MultiIndex.from_arrays([answers["agent"], answers["category"],
                                                                          turn]))


def wins(conditions: Mapping[str, pd.DataFrame], grade: str = "grade") -> dict[tuple[str, str], float]:
    """How many paired answers each condition won against each other (ties count half to each)."""
    points = {name: paired_points(frame, grade) for name, frame in conditions.items()}
    won: dict[tuple[str, str], float] = {}
    for a, b in itertools.permutations(points, 2):
        mine, theirs = points[a].align(points[b], join="inner")
        won[a, b] = float((mine > theirs).sum() + 0.5 * (mine == theirs).sum())
    return won


def bradley_terry(names: list[str], won: Mapping[tuple[str, str], float]) -> dict[str, float]:
    """Strengths (summing to 1) that best explain ``won[a, b]``, a's wins over b."""
    strength = dict.fromkeys(names, 1.0 / len(names))
    for _ in range(ROUNDS):
        updated = {}
        for a in names:
            total = sum(won.get((a, b), 0.0) + PRIOR for b in names if b != a)
            games = sum((won.get((a, b), 0.0) + won.get((b, a), 0.0) + 2 * PRIOR) / (strength[a] + strength[b])
                        for b in names if b != a)
            updated[a] = total / games if games else strength[a]
        scale = sum(updated.values())
        strength = {a: s / scale for a, s in updated.items()}
    return strength


def ranking(conditions: Mapping[str, pd.DataFrame], grade: str = "grade") -> pd.DataFrame:
    """One row per condition: paired answers, wins, share won and Bradley–Terry strength, strongest first."""
    names = list(conditions)
    won = wins(conditions, grade)
    strength = bradley_terry(names, won) if len(names) > 1 else dict.fromkeys(names, 1.0)
    rows = []
    for a in names:
        pairs = sum(won.get((a, b), 0.0) + won.get((b, a), 0.0) for b in names if b != a)
        mine = sum(won.get((a, b), 0.0) for b in names if b != a)
        rows.append([a, int(pairs), mine, mine / pairs if pairs else float("nan"), strength[a]])
    return pd.DataFrame(rows, columns=COLUMNS).sort_values("strength", ascending=False, kind="stable")
