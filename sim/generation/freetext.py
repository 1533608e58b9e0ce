"""Reading a choice out of free text, for servers that cannot be made to answer with an option.

A small model asked "Rating:" over plain HTTP says "7/10", "**Yes**", "Answer:
carry on" or "I'd give it an eight". ``parse_choice`` finds the option such an
answer names, and returns None when it names none or is not clear, so the
backend samples again instead of guessing. The rules, in order:

* Exactly an option (after stripping) is that option.
* Case, punctuation, quotes and markdown are ignored; words match whole, so
  "no" is not found in "not" or "know", and "10" is never "1".
* Numbers: "7/10" and "7 out of 10" are 7; a range naming the whole scale
  ("1-10", "from 1 to 10") is an echo of the question and skipped, another
  range ("7-8") is its first number; "7:30" is 7 (an hour); "07" is 7; a
  decimal names the nearest whole number, halves rounding up ("7.5" is 8).
  Number words ("eight") count when the answer has no digits; "one" only when
  no other number word is there ("this one is an eight").
* The option named first wins; at one place the longest option ("Cafe: hall:
  counter" over "Cafe"). A mention right after a negation in its clause ("not
  talk", "doesn't want to wait") does not count, nor does a list of options
  ("yes or no", "talk, wait or carry on", "yes/no"): that echoes the question.
* Lowercase options (verbs, yes/no) also match simple inflections of their
  first word ("talking", "waits", "carries on"), and yes/no a few synonyms
  ("yeah", "nope").
* When no option is named in full, a word that belongs to one multi-word option
  only names it ("the cafe" for "Hobbs Cafe"), if all such words found point to
  the same option.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[,;:.!?()/\n]")
_NUMBER = r"\d+(?:\.\d+)?"
_RANGE = re.compile(rf"\bbetween\s+({_NUMBER})\s+and\s+({_NUMBER})"  # "between 1 and 10"
                    rf"|(?:\bfrom\s+)?({_NUMBER})\s*(?:-|\bto\b)\s*({_NUMBER})")  # "1-10", "from 1 to 10"
_WORD_NUMBERS = {word: str(n) for n, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_SYNONYMS = {"yes": ("yeah", "yep", "yup", "sure"), "no": ("nope", "nah")}  # not "definitely": "definitely not"
_JOINERS = {"or", "and", "nor", "either"}
_NEGATIONS = {"not", "never", "cannot", "neither"}
_NEGATION_REACH = 3  # words back within a clause: "not want to talk"
_PLAIN = {"the", "and", "for", "with", "her", "his", "their", "its", "our", "your", "from", "into"}


class _Word(NamedTuple):
    text: str
    clause: int  # words of one clause share it: a negation reaches only within its clause
    sentence: int  # a list of options does not run across sentences ("Yes or no? Yes.")


class _Mention(NamedTuple):
    start: int
    end: int
    option: str


def parse_choice(text: str, options: Sequence[str]) -> str | None:
    """The option a free-text answer names (see the module's rules), or None when it names none clearly."""
    stripped = text.strip()
    if stripped in options:
        return stripped
    words = _words(_plain_numbers(text, _scale(options)))
    if any(_is_number(option) for option in options):
        words = _spelt_numbers(words)
    mentions = _mentions(words, options)
    if mentions:
        return _first_clear(words, mentions)
    return _partial(words, options)


def _scale(options: Sequence[str]) -> tuple[int, int] | None:
    numbers = [int(option) for option in options if _is_number(option)]
    return (min(numbers), max(numbers)) if len(numbers) > 1 else None


def _is_number(option: str) -> bool:
    return option.strip().isdigit()


def _plain_numbers(text: str, scale: tuple[int, int] | None) -> str:
    """The text with every number a plain whole number, and echoes of the scale removed."""
    text = text.casefold().translate(_QUOTES)
    text = re.sub(r"\b(\d{1,2}):\d\d\b", r"\1", text)  # 7:30 -> 7 (an hour)
    text = re.sub(rf"\s*(?:/|\bout\s+of)\s*{_NUMBER}", "", text)  # 7/10 -> 7

    def ranged(match: re.Match[str]) -> str:
        low, high = match.group(1) or match.group(3), match.group(2) or match.group(4)
        whole = scale is not None and (_rounded(low), _rounded(high)) == scale
        return " " if whole else f" {low} "

    text = _RANGE.sub(ranged, text)
    text = re.sub(_NUMBER, lambda m: str(_rounded(m.group())), text)
    return re.sub(r"(\d)([^\W\d_])", r"\1 \2", text)  # 7am -> 7 am


def _rounded(number: str) -> int:
    return int(float(number) + 0.5)


def _words(text: str) -> list[_Word]:
    """Lowercase words without possessive 's, numbered by clause and sentence; punctuation only splits them."""
    words: list[_Word] = []
    clause = sentence = 0
    for token in _TOKEN.findall(text.casefold().translate(_QUOTES)):
        if not token[0].isalnum():
            clause += 1
            sentence += token in ".!?\n"
            continue
        token = token[:-2] if token.endswith("'s") else token
        words.append(_Word(str(int(token)) if token.isdigit() else token, clause, sentence))
    return words


def _spelt_numbers(words: list[_Word]) -> list[_Word]:
    """Number words as digits, when the answer has no digits ("one" only when no other number word is there)."""
    if any(word.text.isdigit() for word in words):
        return words
    spelt = [word.text for word in words if word.text in _WORD_NUMBERS]
    skip = {"one"} if len(set(spelt)) > 1 else set()
    return [w._replace(text=_WORD_NUMBERS[w.text]) if w.text in _WORD_NUMBERS and w.text not in skip else w
            for w in words]


def _forms(option: str) -> list[tuple[str, ...]]:
    """The word sequences that name ``option``: its own words, then inflections and synonyms."""
    own = tuple(word.text for word in _words(option))
    if not own:
        return []
    forms = [own] + [(synonym,) for synonym in _SYNONYMS.get(" ".join(own), ())]
    first = own[0]
    if option == option.lower() and first.isalpha() and len(first) >= 3:
        stems = {first, first[:-1]} if first.endswith("e") else {first}
        if first.endswith("y"):
            forms += [(first[:-1] + "ies", *own[1:]), (first[:-1] + "ied", *own[1:])]
        forms += [(stem + ending, *own[1:]) for stem in stems for ending in ("s", "es", "ed", "d", "ing")]
    return forms


def _mentions(words: list[_Word], options: Sequence[str]) -> list[_Mention]:
    """Where options are named, left to right, without overlaps (at one place the longest wins)."""
    texts = [word.text for word in words]
    forms = [(form, option) for option in options for form in _forms(option)]
    found: list[_Mention] = []
    for start in range(len(texts)):
        if found and start < found[-1].end:
            continue
        here = [(len(form), option) for form, option in forms if tuple(texts[start:start + len(form)]) == form]
        if here:
            length, option = max(here, key=lambda item: item[0])
            found.append(_Mention(start, start + length, option))
    return found


def _negated(words: list[_Word], start: int) -> bool:
    before = words[max(0, start - _NEGATION_REACH):start]
    return any(w.clause == words[start].clause and (w.text in _NEGATIONS or w.text.endswith("n't")) for w in before)


def _first_clear(words: list[_Word], mentions: list[_Mention]) -> str | None:
    """The first mention that is neither negated nor part of a list of different options."""
    groups: list[list[_Mention]] = []
    for mention in mentions:
        if groups and _listed(words, groups[-1][-1], mention):
            groups[-1].append(mention)
        else:
            groups.append([mention])
    for group in groups:
        named = {m.option for m in group if not _negated(words, m.start)}
        if len(named) == 1 and len({m.option for m in group}) == 1:
            return named.pop()
    return None


def _listed(words: list[_Word], last: _Mention, mention: _Mention) -> bool:
    """Whether ``mention`` follows ``last`` in a list: only "or"/"and" or a comma or slash between, one sentence."""
    gap, end, start = words[last.end:mention.start], words[last.end - 1], words[mention.start]
    return (all(w.text in _JOINERS for w in gap) and end.sentence == start.sentence
            and (bool(gap) or end.clause != start.clause))


def _partial(words: list[_Word], options: Sequence[str]) -> str | None:
    """The one multi-word option that words of the answer belong to, if only one ("the cafe")."""
    owners: dict[str, set[str]] = {}
    for option in options:
        for word in _words(option):
            owners.setdefault(word.text, set()).add(option)
    named = set()
    for i, word in enumerate(words):
        owner = owners.get(word.text, set())
        if (len(owner) == 1 and len(word.text) >= 3 and word.text.isalpha() and word.text not in _PLAIN
                and len(_words(next(iter(owner)))) > 1 and not _negated(words, i)):
            named |= owner
    return named.pop() if len(named) == 1 else None
