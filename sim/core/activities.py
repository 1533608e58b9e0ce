"""What an activity phrase says about the one doing it: asleep or not, eating or not (and which meal).

Planning (a schedule's bedtime) and the analyses of a logged run (time-of-day
realism) read the same words, so a model's "going to bed" counts as sleep for both.
"""

from __future__ import annotations

import re

SLEEP_WORDS = re.compile(r"\b(sleep|sleeping|asleep|go(?:es|ing)? to bed|bedtime|in bed)\b", re.I)
MEALS = {"breakfast": "breakfast", "lunch": "lunch", "dinner": "dinner", "supper": "dinner"}  # word: meal
MEAL = "meal"  # a meal the words do not name ("eating a sandwich", "having a snack")
_NAMED = re.compile(r"\b(" + "|".join(MEALS) + r")\b", re.I)
_EATING = re.compile(r"\b(eat|eats|eating|ate|meal|meals|snack|snacks|snacking|brunch|a bite)\b", re.I)
_NOT_EATING = re.compile(r"\b(serv(?:e|es|ing)|sell(?:s|ing)?|shop(?:s|ping)?|buy(?:s|ing)?|deliver(?:s|ing)?)\b", re.I)


def is_sleep(activity: str) -> bool:
    return bool(SLEEP_WORDS.search(activity))


def meal_of(activity: str) -> str | None:
    """The meal an activity is ("breakfast", "lunch", "dinner", or ``MEAL`` when unnamed), None when it is none.
    Serving, selling, shopping for or delivering food is someone else's meal, not one's own."""
    if _NOT_EATING.search(activity):
        return None
    named = _NAMED.search(activity)
    if named:
        return MEALS[named.group(1).lower()]
    return MEAL if _EATING.search(activity) else None


def is_meal(activity: str) -> bool:
    return meal_of(activity) is not None
