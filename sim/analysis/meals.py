"""Meals at meal times: when residents ate, read from the activities they took up (time-of-day realism).

A meal is an activity ``sim.core.activities.meal_of`` reads as eating; its
steps, and any meal of the same name (or none) taken up again within
``SAME_MEAL_S`` of the last of its rows, are one meal (eating, a chat at the
table, eating again). A meal is on time when it starts within its window
(``WINDOWS``, clock minutes, both ends in); a meal the words do not name
("eating a sandwich") within any of them. Meals per resident-day divide the
meals by the days residents were in the log (a partial day counts in part).
"""

from __future__ import annotations

from agentville.sim.core.activities import MEAL, meal_of

from .moments import DAY_S, Timeline

WINDOWS = {"breakfast": (5 * 60, 10 * 60 + 30), "lunch": (11 * 60, 15 * 60), "dinner": (17 * 60, 21 * 60 + 30)}
SAME_MEAL_S = 3600


def on_time(meal: str, minute: float) -> bool:
    """Whether a meal starting ``minute`` minutes past midnight starts within its window (any, unnamed)."""
    windows = WINDOWS.values() if meal == MEAL else [WINDOWS[meal]]
    return any(low <= minute <= high for low, high in windows)


def meals_of(line: Timeline) -> list[tuple[float, str]]:
    """The meals of one timeline: (start in simulated seconds, meal), in order."""
    found: list[tuple[float, str]] = []
    last = float("-inf")  # the time of the last row of the meal being eaten
    for t, activity in zip(line.times, line.activities):
        meal = meal_of(activity)
        if meal is None:
            continue
        since, eating = found[-1] if found else (0.0, "")
        if found and t - last <= SAME_MEAL_S and (meal == eating or MEAL in (meal, eating)):
            if eating == MEAL:
                found[-1] = (since, meal)  # an unnamed start, named later: "eating", then "breakfast"
        else:
            found.append((float(t), meal))
        last = float(t)
    return found


def meal_times(lines: dict[str, Timeline], people: list[str], end: float,
               offset: float) -> dict[str, tuple[int, int, float]]:
    """Per resident in the log: (meals, meals on time, days in the log)."""
    table = {}
    for agent in people:
        line = lines.get(agent)
        if line is None:
            continue
        meals = meals_of(line)
        timely = sum(on_time(meal, ((t + offset) % DAY_S) / 60) for t, meal in meals)
        table[agent] = (len(meals), timely, max(0.0, end - float(line.times[0])) / DAY_S)
    return table
