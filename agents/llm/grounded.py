"""Answers that name only what was said: a check refusing made-up people, places, events and times.

A small model asked to sum up a talk or to say a line makes things up ("they
met at the Blue Moon Diner on Tuesday at 3pm"). Such an answer is refused
(``Unparseable``: ``ask`` logs it and asks again, then falls back on its plain,
extractive answer) when it names something none of its *sources* has:

- a name (``sim.core.mentions.names_in``: capitalised words not opening a
  sentence) with a word that is not in the sources, in any case, with a
  possessive or plural ending dropped ("the Johnsons'" is grounded by "Johnson");
- a weekday, in any case and anywhere (yesterday, today and tomorrow are known);
- a clock time said in digits ("3pm", "10:30") or a year ("2014") that no source says.

The sources are the texts the answer may draw on (the lines said, what the
speaker recalled, its persona), the town's names (residents, places, aliases,
areas, objects) and the common words a model capitalises ("Good Morning").
The check is conservative: a refusal costs a model call, so what it cannot
tell (a made-up "coffee break", a lower-case name) passes.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
import weakref
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentville.sim.core.mentions import CALENDAR, MONTHS, WEEKDAYS, times_in, ungrounded, words_of

from .asking import Unparseable

if TYPE_CHECKING:
    from agentville.sim.context.protocols import AgentContext

# Words a model capitalises that name no one ("Hi Tom, Good Morning!"), titles, and contractions said as names.
COMMON = frozenset("""i im i'm ive i've ill i'll id i'd ok okay mr mrs ms miss dr sir madam prof professor am pm
a an the and or but so if then of to in on at for with from by about as into over after before up down out
me my mine we us our you your yours he him his she her hers it its they them their this that these those there
here what when where who why how which yes yeah yep no nope not oh ah hi hello hey bye goodbye thanks thank please
sorry well wow is are was were be been do did does have has had will would can could should may might must just
also too very really sure maybe great good nice fine wonderful lovely awesome amazing perfect happy glad best
day morning afternoon evening night today tonight tomorrow yesterday week weekend time see talk later soon
anyway absolutely definitely certainly indeed right let let's lets everyone everybody someone something nothing
anything all some any every one two three first next last new old big little lot much many more most other same
such only own dear god gosh cheers welcome congratulations enjoy take care have fun""".split())
_CLOCK = re.compile(r"(?<![\w$£€.,:])(?:\d{1,2}(?::\d{2})?\s*[ap]\.?m\.?(?!\w)|\d{1,2}:\d{2}(?![\d:]))", re.I)
_ANY_YEAR = re.compile(r"(?<![\w$£€.,:-])(?:1[89]|20)\d\d(?!\w|[.,:-]\d)")
_YEAR = re.compile(r"(?:\b(?:in|since|from|until|till|by|of|year|" + "|".join(MONTHS) + r")\s+"
                   r"|\b\d{1,2}(?:st|nd|rd|th)?,\s*)"
                   r"((?:1[89]|20)\d\d)(?!\w|[.,:-]\d)", re.I)  # a year said as one: "in 2014", "May 13, 2014"
_WEEKDAY = re.compile(r"\b(?:" + "|".join(WEEKDAYS) + r")s?\b", re.I)


@dataclass(frozen=True)
class Grounds:
    """What an answer may name: the words of its sources (folded) and the times of day they say."""
    words: AbstractSet[str]
    times: frozenset[int] | None  # None: times, weekdays and years are not checked (calendar words pass)
    years: frozenset[str] = frozenset()

    @classmethod
    def of(cls, texts: Iterable[str], known: frozenset[str] = frozenset(), *, times: bool = True) -> Grounds:
        """The grounds of ``texts``, with ``known`` words (the town's names) and ``COMMON`` counted as said."""
        said = [_straight(t) for t in texts]
        found = set(COMMON | (frozenset() if times else CALENDAR))
        for text in said:
            found |= words_of(text)
        minutes = frozenset(m for t in said for m in _both_halves(times_in(t))) if times else None
        words = _Either(frozenset(_folded(found)), _folded_town(known))  # the town's words are folded once
        return cls(words, minutes, frozenset(y for t in said for y in _ANY_YEAR.findall(t)))

    def unsaid(self, text: str) -> list[str]:
        """What ``text`` names that the grounds lack: names, weekdays, clock times and years, each once."""
        text = _straight(text)
        found = ungrounded(text, self.words)
        if self.times is None:
            return found
        found += [d.group() for d in _WEEKDAY.finditer(text) if d.group().lower().rstrip("s") not in self.words]
        for clock in _CLOCK.finditer(text):
            said = times_in(clock.group())
            if said and not _both_halves(said[:1]) & self.times:
                found.append(clock.group().strip())
        found += [year for year in _YEAR.findall(text) if year not in self.years]
        return list(dict.fromkeys(found))

    def check(self, *texts: str | None) -> None:
        """Refuse an answer (one or more texts) naming what the grounds lack."""
        for text in texts:
            strange = self.unsaid(text) if text else []
            if strange:
                raise Unparseable(f"names {strange[0]}, which nobody said")


def _straight(text: str) -> str:
    """``text`` with straight apostrophes ("I’m" is "I'm")."""
    return text.replace("\u2019", "'")


class _Either(AbstractSet[str]):
    """Words said or the town's: both sets as one, without copying the town's into each answer's grounds."""

    def __init__(self, said: frozenset[str], town: frozenset[str]):
        self._said, self._town = said, town

    def __contains__(self, word: object) -> bool:
        return word in self._said or word in self._town

    def __iter__(self) -> Iterator[str]:
        return itertools.chain(self._said, self._town - self._said)

    def __len__(self) -> int:
        return len(self._said) + len(self._town - self._said)


@functools.lru_cache(maxsize=8)
def _folded_town(words: frozenset[str]) -> frozenset[str]:
    return frozenset(_folded(set(words)))


def _folded(words: set[str]) -> set[str]:
    """``words`` with their plural and singular forms ("johnson" and "johnsons")."""
    return words | {w + "s" for w in words} | {w + "es" for w in words} | {w[:-1] for w in words if w.endswith("s")}


def _both_halves(times: Iterable[tuple[int, bool]]) -> set[int]:
    """Minutes of the day; a time said without am/pm ("3:00") may be in either half."""
    return {m for minute, certain in times for m in ((minute,) if certain else (minute % 720, minute % 720 + 720))}


def days_around(when: dt.datetime) -> str:
    """The calendar an answer may name without a source: yesterday, today, tomorrow, the month, year and time."""
    days = [(when + dt.timedelta(days=d)).strftime("%A") for d in (-1, 0, 1)]
    return f"{' '.join(days)} {when:%B %Y %H:%M}"


def town_names(ctx: AgentContext, residents: bool = True) -> tuple[str, ...]:
    """The town's names: its places, their aliases, areas and objects, and (with ``residents``) its people."""
    names = [*ctx.residents] if residents else []
    for place, spec in ctx.world.places.items():
        names += [place, *spec.aliases]
        names += [n for area in spec.areas for n in (area.name, *(o.name for o in area.objects))]
    return tuple(names)


_TOWNS: weakref.WeakKeyDictionary[Any, dict[tuple[bool, int], frozenset[str]]] = weakref.WeakKeyDictionary()


def town_words(ctx: AgentContext, residents: bool = True) -> frozenset[str]:
    """The words of the town's names (``town_names``), made once per town and kept until someone moves in;
    without ``residents``, less the words of people's names (of places named after them: "Isabella
    Rodriguez's apartment" is no sign of knowing Isabella)."""
    made = _TOWNS.setdefault(ctx.world, {})
    key = (residents, len(ctx.residents))
    if key not in made:
        people = set() if residents else {w for name in ctx.residents for w in words_of(name)}
        made[key] = frozenset({w for name in town_names(ctx, residents) for w in words_of(name)} - people)
    return made[key]


def grounds(ctx: AgentContext, at: float, texts: Iterable[str], *, residents: bool = True,
            times: bool = True) -> Grounds:
    """What an answer due at ``at`` may name: ``texts``, the calendar around it, and the town's names
    (its residents' too, or only those ``texts`` name); with ``times``, the times of day and weekdays it says."""
    return Grounds.of((*texts, days_around(ctx.clock.at(at))), town_words(ctx, residents), times=times)


def grounded(ctx: AgentContext, at: float, texts: Iterable[str], *, residents: bool = True,
             times: bool = True) -> Callable[..., None]:
    """A check for ``ask`` refusing answers that name what neither ``texts`` nor the town has; the grounds are
    made when the first answer comes (the fake backend's plain answers are never checked)."""
    sources = tuple(texts)
    made: list[Grounds] = []

    def check(*answer: str | None) -> None:
        if not made:
            made.append(grounds(ctx, at, sources, residents=residents, times=times))
        made[0].check(*answer)
    return check
