"""Sleep habits: when a persona usually wakes up and goes to bed.

A day is lived from waking to bedtime, whatever the clock says: most
residents wake in the morning and sleep before midnight, a night guard wakes
at 15:00 and goes to bed at 08:00 the next morning. The habit comes from
the scenario (the routine's night, or the lifestyle's words) and bounds what
a model may plan: a wake-up near it, a bedtime near it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .schedule import DEFAULT_BEDTIME_MINUTE, clock_minute, is_sleep

DEFAULT_WAKE_MINUTE = 7 * 60
_AT = r"(?:(noon|midnight)|(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?)"
_BEDTIME = re.compile(r"(?:goes? to bed|bedtime)\D{0,12}?" + _AT, re.I)
_WAKE = re.compile(r"(?:wakes? up|gets? up)\D{0,12}?" + _AT, re.I)
_SLEEPS = re.compile(r"sleeps?\s+(?:from\s+)?" + _AT + r"\s*(?:to|until|till|-)\s*" + _AT, re.I)  # bed, wake


def wake_minute(routine, lifestyle: str = "") -> int:
    """When the persona habitually wakes up, as a minute of the day.

    The lifestyle's "wakes up at 3 pm" (or "sleeps from 8 am to 3 pm"), else the routine's first step
    after its night's sleep (or after its longest gap, when that is in the morning), else 07:00.
    """
    said, sleeps = _WAKE.search(lifestyle), _SLEEPS.search(lifestyle)
    if said:
        return _habit_clock(said.groups(), evening=False)
    if sleeps:
        return _habit_clock(sleeps.groups()[4:], evening=False)
    night = _night(routine)
    if night:
        return night[1]
    steps = sorted(s.minute_of_day for s in routine)
    if steps:
        gaps = [((steps[(i + 1) % len(steps)] - m) % 1440 or 1440, steps[(i + 1) % len(steps)])
                for i, m in enumerate(steps)]
        first = max(gaps)[1]
        if 4 * 60 <= first < 12 * 60:
            return first
    return DEFAULT_WAKE_MINUTE


def bedtime_minute(routine, lifestyle: str = "") -> int:
    """When the persona habitually goes to bed, in minutes after the midnight before it wakes up.

    The routine's night sleep, else the lifestyle's "goes to bed around ..." (or "sleeps from ..."),
    else 23:00. A bedtime is at least 4 hours after waking up (past 1440: after midnight), so someone who
    wakes at 07:00 and sleeps at 01:00 goes to bed at 1500, a night guard up at 15:00 at 1920 (08:00).
    """
    night = _night(routine)
    said = _BEDTIME.search(lifestyle) or _SLEEPS.search(lifestyle)
    minute = night[0] if night else _habit_clock(said.groups()[:4], evening=True) if said else DEFAULT_BEDTIME_MINUTE
    wake = wake_minute(routine, lifestyle)
    return min(minute if minute > wake + 240 else minute + 1440, wake + 22 * 60)


def _night(routine) -> tuple[int, int] | None:
    """(bedtime, wake-up) minutes of the routine's night: the sleep step followed by the longest sleep."""
    steps = sorted(routine, key=lambda s: s.minute_of_day)
    nights = []
    for index, step in enumerate(steps):
        awake = [s for s in steps[index + 1:] + steps[:index] if not is_sleep(s.activity)]
        if is_sleep(step.activity) and awake:
            nights.append(((awake[0].minute_of_day - step.minute_of_day) % 1440, step.minute_of_day,
                           awake[0].minute_of_day))
    return max(nights)[1:] if nights else None


def _habit_clock(groups: Sequence[str | None], *, evening: bool) -> int:
    """The minute of the day an ``_AT`` match names; at bedtime a bare 6 to 12 is in the evening."""
    word, hour, minute, half = groups
    if word:
        return 12 * 60 if word.lower() == "noon" else 0
    h = int(hour or 0)
    if evening and not half and 6 <= h <= 12:
        h += 12
    return (clock_minute(h, int(minute or 0), half) or 0) % 1440
