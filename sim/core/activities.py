"""What an activity phrase says about the one doing it: asleep or not.

Planning (a schedule's bedtime) and the analyses of a logged run (time-of-day
realism) read the same words, so a model's "going to bed" counts as sleep for both.
"""

from __future__ import annotations

import re

SLEEP_WORDS = re.compile(r"\b(sleep|sleeping|asleep|go(?:es|ing)? to bed|bedtime|in bed)\b", re.I)


def is_sleep(activity: str) -> bool:
    return bool(SLEEP_WORDS.search(activity))
