"""How free text names places: tolerant, but never on the strength of one common word.

Personas, thoughts and conversations name places the way people do: "the
Willows market", "Hobbs Cafe's", "Hobs Cafe". A place is named in a text by

1. its whole name or an alias, whatever the case, a leading article, a plural
   or possessive s ("the Rose & Crown Pub's" names "The Rose and Crown Pub");
2. a run of two or more telling words of its name ("Willow Market", "Rose and
   Crown") that points at one place: a run that starts a name wins over one
   inside another ("Oak Hill" is the college, not its dorm); a run of
   residents' names ("Ryan Park") never names the place called after them;
3. a close spelling of a whole name of two telling words or more, word for
   word (difflib, ratio ``CLOSE``: "Hobs Cafe" yes, "Hobbs Pub" no); a
   number is said exactly ("Apartment 1204" is not "Apartment 1205").

One word alone ("park", "market") names a place only when it is the place's
whole name or an alias: scenario ``aliases`` are the way to add nicknames.
The scenario's checks use ``name_key`` so that no two places share a name
free text could not tell apart.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Mapping

from .spellings import Spellings

ARTICLES = frozenset({"the", "a", "an"})
LINKS = frozenset({"and", "of", "for", "at", "in", "on", "to", "by", "with"})  # words that name nothing
CLOSE = 0.88  # conservative: a letter or two off in a name of two words or more ...
CLOSE_WORD = 0.75  # ... and each word close to the name's word in its place ("Pakr" for "Park", not "but" for "house")
SEEN_TEXTS = 4096  # texts whose places are remembered
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*'?")

Key = tuple[str, ...]


def words(text: str) -> list[str]:
    """The words of ``text`` as names are compared: lower case, "&" as "and", no possessive or plural s."""
    text = text.lower().replace("\u2019", "'").replace("&", " and ")
    found = []
    for word in _WORD.findall(text):
        word = word.removesuffix("'s").rstrip("'")
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        found.append(word)
    return found


def name_key(name: str) -> str:
    """A name as free text reads it: "The Willows' Market" and "willows market" are one name."""
    found = words(name)
    while found and found[0] in ARTICLES:
        found = found[1:]
    return " ".join(found)


@functools.lru_cache(maxsize=1 << 16)
def _telling(run: Key, people: frozenset[str]) -> bool:
    """Two words or more that are not links, and one that is not a resident's name."""
    content = [w for w in run if w not in LINKS and w not in ARTICLES]
    return len(content) >= 2 and any(w not in people for w in content)


@functools.lru_cache(maxsize=1 << 16)
def _close(a: str, b: str) -> float:
    """difflib's ratio of two spellings (0 when it is plainly below ``CLOSE_WORD``).

    Conversations repeat the same words against the same names all day, so answers are remembered, and
    the lengths alone rule most pairs out (the ratio is at most 2 min(len) / (len a + len b)).
    """
    if 2 * min(len(a), len(b)) < CLOSE_WORD * (len(a) + len(b)):
        return 0.0
    matcher = difflib.SequenceMatcher(None, a, b)
    return matcher.ratio() if matcher.real_quick_ratio() >= CLOSE_WORD and matcher.quick_ratio() >= CLOSE_WORD else 0.0


class PlaceNames:
    """The names and aliases of a town's places, to find the places a text names.

    Everything is looked up in indexes made once, never by walking the town's
    names, so a text costs the same in a town of 25 and of 10,000: whole names
    by their words (``_whole``), runs of a name's words in a trie of every
    name's tails (``_runs``), close spellings by the name words each said word
    is close to (``_near``, remembered per word).
    """

    def __init__(self, places: Mapping[str, Iterable[str]], residents: Iterable[str] = ()):
        """``places``: each place's name and its aliases; ``residents``: people's names, which name no place."""
        keys: dict[tuple[Key, str], None] = {}  # ordered and without repeats
        for place, aliases in places.items():
            for name in (place, *aliases):
                key = tuple(name_key(name).split())
                if key:
                    keys[key, place] = None
        ordered = sorted(keys, key=lambda kp: -len(kp[0]))  # longest first: "Dorm for Oak Hill College" first
        self._whole_at: dict[Key, list[tuple[int, str]]] = {}  # a name -> (its rank in that order, its place)
        for rank, (key, place) in enumerate(ordered):
            self._whole_at.setdefault(key, []).append((rank, place))
        self._lengths = sorted({len(key) for key, _ in ordered}, reverse=True)
        self._tails = _Node()  # every tail of every name: what a run of said words may be inside of
        for key, place in ordered:
            for j in range(len(key)):
                self._tails.add(key[j:], place, starts=j == 0)
        self._spellable: dict[int, list[tuple[Key, str, str]]] = {}  # names long enough to be misspelt, by words
        self._spelt_at: dict[tuple[int, int, str], list[int]] = {}  # (words, where, word) -> ranks in _spellable
        self._exact: set[str] = set()  # the words of those names
        for key, place in ordered:
            if len(" ".join(key)) >= 8 and _telling(key, frozenset()):
                names = self._spellable.setdefault(len(key), [])
                for j, word in enumerate(key):
                    self._spelt_at.setdefault((len(key), j, word), []).append(len(names))
                    self._exact.add(word)
                names.append((key, " ".join(key), place))
        self._sizes = sorted(self._spellable, reverse=True)  # longest first, as the whole names
        self._spellings = Spellings(self._exact)
        self._near_words: dict[str, frozenset[str]] = {}
        self._seen: dict[str, list[str]] = {}
        people = {tuple(words(name)) for name in residents if words(name)}
        self._names = frozenset(people)
        self._name_lengths = sorted({len(name) for name in people}, reverse=True)
        self._people = frozenset(w for name in people for w in name)
        self.work = 0  # index entries looked at: what a text costs (a test holds it flat as towns grow)

    def named_in(self, text: str) -> list[str]:
        """The places ``text`` names, sorted (remembered: agents hear the same lines again and again)."""
        if text not in self._seen:
            if len(self._seen) >= SEEN_TEXTS:
                self._seen.clear()
            self._seen[text] = self._find(text)
        return list(self._seen[text])

    def _find(self, text: str) -> list[str]:
        said = words(text)
        used = [False] * len(said)  # words already taken for a place: each names one place at most
        whole = self._whole(said, used)  # in this order: what a longer reading took, a shorter one cannot
        runs = self._runs(said, used)
        return sorted({*whole, *runs, *self._misspelt(said, used)})

    @staticmethod
    def _take(used: list[bool], start: int, length: int, place: str) -> str:
        used[start:start + length] = [True] * length
        return place

    def _whole(self, said: list[str], used: list[bool]) -> list[str]:
        """1. Whole names and aliases, longest first (the dorm's name takes its "Oak Hill College").

        A one-word name or alias is not a word of a resident's name ("the park" is not in "Ryan Park").
        """
        in_names = [False] * len(said)
        for length in self._name_lengths:
            for i in range(len(said) - length + 1):
                if tuple(said[i:i + length]) in self._names:
                    in_names[i:i + length] = [True] * length
        hits = []  # (the name's rank, where it is said, its length, its place): taken in that order
        for length in self._lengths:
            for i in range(len(said) - length + 1):
                for rank, place in self._whole_at.get(tuple(said[i:i + length]), ()):
                    hits.append((rank, i, length, place))
        self.work += len(hits)
        found = []
        for _, i, length, place in sorted(hits):
            if not any(used[i:i + length]) and not (length == 1 and in_names[i]):
                found.append(self._take(used, i, length, place))
        return found

    def _runs(self, said: list[str], used: list[bool]) -> list[str]:
        """2. Runs of two or more telling words of one place's name, from each word on.

        The longest run of said words inside some name decides: if it is
        telling, the one place whose name it starts, else the one place whose
        name has it (a run could be either of two places: it names neither).
        A shorter run never wins, as telling only grows with the run.
        """
        found = []
        for i in range(len(said)):
            node, length = self._tails, 0
            while i + length < len(said) and not used[i + length] and said[i + length] in node.tails:
                node = node.tails[said[i + length]]
                length += 1
            self.work += length
            if length >= 2 and _telling(tuple(said[i:i + length]), self._people):
                chosen = node.starts if node.starts is not None else node.inside
                if chosen is not None and chosen is not _Node.SEVERAL:
                    found.append(self._take(used, i, length, chosen))
        return found

    def _misspelt(self, said: list[str], used: list[bool]) -> list[str]:
        """3. Close spellings of whole names of two telling words or more, word for word."""
        found = []
        near = [self._near(word) for word in said]  # most said words are like no name's: their windows go
        for size in self._sizes:
            names = self._spellable[size]
            for i in range(len(said) - size + 1):
                if any(used[i:i + size]) or not all(near[i:i + size]):
                    continue
                window = said[i:i + size]
                joined = " ".join(window)
                for rank in self._spelt_like(size, near[i:i + size]):
                    key, spelt, place = names[rank]
                    # cheapest first: the lengths alone rule out most (a ratio is at most 2 min / sum)
                    if 2 * min(len(joined), len(spelt)) < CLOSE * (len(joined) + len(spelt)):
                        continue
                    if _telling(tuple(window), self._people) and _close(joined, spelt) >= CLOSE:
                        found.append(self._take(used, i, size, place))
                        break
        return found

    def _spelt_like(self, size: int, near: list[frozenset[str]]) -> list[int]:
        """The names of ``size`` words whose every word is in ``near`` (what each said word may stand for)."""
        postings = [[self._spelt_at.get((size, j, word), ()) for word in near[j]] for j in range(size)]
        counts = [sum(len(p) for p in lists) for lists in postings]
        rarest = counts.index(min(counts))  # the fewest names: start from them, check the other words
        self.work += counts[rarest]
        names = self._spellable[size]
        return sorted(rank for posting in postings[rarest] for rank in posting
                      if all(names[rank][0][j] in near[j] for j in range(size) if j != rarest))

    def _near(self, said_word: str) -> frozenset[str]:
        """The names' words ``said_word`` may stand for: itself, or close spellings (remembered per word)."""
        near = self._near_words.get(said_word)
        if near is None:
            if len(self._near_words) >= SEEN_TEXTS:
                self._near_words.clear()
            candidates = {said_word} & self._exact | self._spellings.like(said_word)
            self.work += len(candidates)
            near = frozenset(word for word in candidates if word == said_word or _close(said_word, word) >= CLOSE_WORD)
            self._near_words[said_word] = near
        return near


class _Node:
    """The tails of names that start with the words on the way here: the places they belong to.

    Only whether there is one place or several matters, so ``SEVERAL`` stands for any number above one.
    """

    SEVERAL = "<several places>"

    def __init__(self) -> None:
        self.tails: dict[str, _Node] = {}
        self.inside: str | None = None  # the place of every name with these words, or SEVERAL
        self.starts: str | None = None  # the same for names that start with them

    def add(self, tail: Key, place: str, starts: bool) -> None:
        node = self
        for word in tail:
            node = node.tails.setdefault(word, _Node())
            node.inside = _one(node.inside, place)
            if starts:
                node.starts = _one(node.starts, place)


def _one(current: str | None, place: str) -> str:
    return place if current in (None, place) else _Node.SEVERAL
