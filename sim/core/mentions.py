"""What a text names: capitalised names, calendar words and times of day.

Shared by the analysis, which counts made-up names in what agents said
(``sim.analysis.grounding``, ``naming``) and reads times in interview answers
(``grading``), and by the agents, which refuse an answer naming what nobody
said (``agents.llm.grounded``): one notion of a name and a time for both.

A name is a run of capitalised words. The first word of a sentence is
capitalised anyway, so it is left out of the run ("Thanks Maria" names Maria);
a lone capitalised word that starts a sentence is therefore never counted
(a lower bound: "Zorblax is here." passes, "I met Zorblax." does not).
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
CALENDAR = frozenset((*WEEKDAYS, *MONTHS, *"""valentine valentine's christmas easter mon tue tues wed thu thur
thurs fri sat sun jan feb mar apr jun jul aug sep sept oct nov dec""".split()))  # days and months, in full or short
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")
_NAME = re.compile(r"[A-Z][\w'’-]*(?:[ \t]+[A-Z][\w'’-]*)*")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_POSSESSIVE = re.compile(r"['’]s?$")
_CUT = re.compile(r"[^\W\d_]$")  # a text ending in a letter, no full stop: perhaps cut off

_NUMBERS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}
_HOUR = r"(\d{1,2}|" + "|".join(_NUMBERS) + r")"
_SUFFIX = r"\s*(a\.?m\.?|p\.?m\.?|in the morning|in the afternoon|in the evening|at night)?"
_TIMES = [  # (pattern, how to read hour and minute from its groups)
    (re.compile(r"\b(\d{1,2})[:.h](\d{2})" + _SUFFIX, re.I), lambda g: (g[0], int(g[1]), g[2])),
    (re.compile(r"\bhalf past " + _HOUR + _SUFFIX, re.I), lambda g: (g[0], 30, g[1])),
    (re.compile(r"\bquarter past " + _HOUR + _SUFFIX, re.I), lambda g: (g[0], 15, g[1])),
    (re.compile(r"\bquarter to " + _HOUR + _SUFFIX, re.I), lambda g: (g[0], -15, g[1])),
    (re.compile(r"\b" + _HOUR + r" thirty" + _SUFFIX, re.I), lambda g: (g[0], 30, g[1])),
    (re.compile(r"\b" + _HOUR + r"\s*(?:o'clock|o’clock)" + _SUFFIX, re.I), lambda g: (g[0], 0, g[1])),
    (re.compile(r"\b" + _HOUR + r"\s*(a\.?m\.?|p\.?m\.?)", re.I), lambda g: (g[0], 0, g[1])),
    (re.compile(r"\b(noon|midday)\b", re.I), lambda g: ("12", 0, "pm")),
    (re.compile(r"\bmidnight\b", re.I), lambda g: ("12", 0, "am")),
]


def words_of(text: str) -> set[str]:
    """The words of ``text`` in lower case, each as written and without a possessive ending."""
    return {_POSSESSIVE.sub("", w).lower() for w in _WORD.findall(text)} | {w.lower() for w in _WORD.findall(text)}


def names_in(text: str) -> list[str]:
    """The capitalised names in ``text``, each without a sentence's first word."""
    found = []
    for sentence in _SENTENCE.split(text):
        first = re.search(r"[^\W\d_]", sentence)
        for match in _NAME.finditer(sentence):
            words = match.group().split()
            if first is not None and match.start() == first.start():
                words = words[1:]
            if words:
                found.append(" ".join(words))
    return found


def ungrounded(text: str, known: AbstractSet[str]) -> list[str]:
    """The names in ``text`` with a word outside ``known`` (in order, each once). A text cut off mid-word
    (a summary at its length limit: "... Isabella Rodri") may end in the start of a known word."""
    cut = _CUT.search(text)
    strange: list[str] = []
    for name in names_in(text):
        words = [_POSSESSIVE.sub("", w).lower() for w in _WORD.findall(name)]
        if cut and text.endswith(name) and any(k.startswith(words[-1]) for k in known):
            words.pop()
        if any(w not in known for w in words) and name not in strange:
            strange.append(name)
    return strange


def times_in(text: str) -> list[tuple[int, bool]]:
    """The times of day ``text`` says, as (minute of the day, whether am/pm was said), in order of the patterns."""
    found = []
    for pattern, read in _TIMES:
        for match in pattern.finditer(text):
            hour_text, minute, suffix = read(match.groups())
            hour = int(hour_text) if hour_text.isdigit() else _NUMBERS[hour_text.lower()]
            if hour > 23 or minute > 59:
                continue
            if minute < 0:
                hour, minute = hour - 1, 60 + minute
            suffix = (suffix or "").lower().replace(".", "")
            if suffix in ("pm", "in the afternoon", "in the evening", "at night") and hour < 12:
                hour += 12
            elif suffix in ("am", "in the morning") and hour == 12:
                hour = 0
            found.append(((hour % 24) * 60 + minute, bool(suffix) or hour > 12))
    return found
