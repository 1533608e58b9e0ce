"""Names found through indexes (places in texts, owners of rooms): the same as reading every name, at a cost
the town's size does not set."""

from __future__ import annotations

import random

import pytest

from agentville.sim.core.location import Residents, area_owners, names_before_possessives, owner_text
from agentville.sim.core.placenames import PlaceNames
from agentville.sim.scenario import load_scenario
from tests.conftest import WORLDS
from tests.placenames_reference import ScanningPlaceNames

FILLER = ("the", "a", "and", "of", "at", "in", "for", "to", "coffee", "lunch", "walk", "met", "with", "by",
          "morning", "house", "'s", "garden", "shop", "supply", "store", "college", "pub", "park", "market")


def town(copies: int) -> tuple[dict[str, list[str]], list[str]]:
    """Smallville's places and residents, copied as the benches grow towns: copy k's names end in "#k"."""
    smallville = load_scenario(WORLDS / "smallville.yaml")
    places: dict[str, list[str]] = {}
    residents = []
    for k in range(1, copies + 1):
        tag = "" if k == 1 else f" #{k}"
        for place in smallville.places:
            places[place.name + tag] = [alias + tag for alias in place.aliases]
        residents += [persona.name + tag for persona in smallville.personas]
    return places, residents


def misspell(word: str, rng: random.Random) -> str:
    if len(word) < 3 or word.isdigit():
        return word
    i = rng.randrange(len(word))
    return rng.choice([word[:i] + word[i + 1:], word[:i] + rng.choice("aeiourst") + word[i + 1:],
                       word[:i] + word[i:i + 2][::-1] + word[i + 2:], word[:i] + word[i] + word[i:]])


def texts(places: dict[str, list[str]], residents: list[str], count: int, seed: int) -> list[str]:
    """Sentences mixing names, aliases, their words, residents, misspellings and filler."""
    rng = random.Random(seed)
    names = [n for place, aliases in places.items() for n in (place, *aliases)]
    said = []
    for _ in range(count):
        parts: list[str] = []
        for _ in range(rng.randint(2, 8)):
            pick = rng.random()
            if pick < 0.3:
                name = rng.choice(names).split()
                start = rng.randrange(len(name))
                parts += name[start:start + rng.randint(1, len(name))] if rng.random() < 0.5 else name
            elif pick < 0.5:
                parts += [misspell(w, rng) for w in rng.choice(names).split()]
            elif pick < 0.65:
                parts += rng.choice(residents).split()
            else:
                parts.append(rng.choice(FILLER))
        said.append(" ".join(parts))
    return said


@pytest.mark.parametrize("copies", [1, 3])
def test_indexed_names_find_what_a_scan_of_every_name_finds(copies):
    places, residents = town(copies)
    indexed, scanning = PlaceNames(places, residents), ScanningPlaceNames(places, residents)
    checked = texts(places, residents, 2500, seed=copies)
    disagree = [(t, indexed.named_in(t), scanning.named_in(t)) for t in checked
                if indexed.named_in(t) != scanning.named_in(t)]
    assert not disagree, disagree[:5]
    assert sum(bool(scanning.named_in(t)) for t in checked) > 1500  # most texts name places: a real comparison


@pytest.mark.parametrize(("text", "places"), [
    ("a pint at the Rose and Crown Pub #3", {"The Rose and Crown Pub #3"}),
    ("a pint at the Rose and Crown", set()),  # the pub of which copy?
    ("lunch at Hobs Cafe #2", {"Hobbs Cafe #2"}),
    ("coffee at Hobbs Caffe", {"Hobbs Cafe"}),
    ("Oak Hill", set()),  # the college's words, in every copy: it could be any of them
])
def test_names_in_a_grown_town(text, places):
    assert set(PlaceNames(*town(4)).named_in(text)) == places


def test_numbers_are_said_exactly():
    names = PlaceNames({"Apartment 1205": [], "Willow Tower 31": []})
    assert names.named_in("Apartment 1205") == ["Apartment 1205"]
    assert names.named_in("Apartment 1204") == []  # a scan of every name took it for 1205 (ratio 0.75)
    assert names.named_in("Willow Towr 31") == ["Willow Tower 31"]
    assert names.named_in("Apartment 1250") == []


def work(matcher: type[PlaceNames] | type[ScanningPlaceNames], copies: int, said: list[str]) -> int:
    names = matcher(*town(copies))
    for text in said:
        names.named_in(text)
    return names.work


def test_the_work_of_a_text_does_not_grow_with_the_town():
    """The same texts (they name the first two copies) cost the same in a town of 10 and of 100 copies.

    (A town of very few copies costs a little less: where two words of a name could each be looked up,
    the rarer is, and the copies make a name's first word common; that stops at a few copies.)
    """
    said = texts(*town(2), 400, seed=7)
    small, large = work(PlaceNames, 10, said), work(PlaceNames, 100, said)
    assert small > 400
    assert large <= 1.05 * small, (small, large)


def test_the_scan_it_replaced_grew_with_the_town():
    """What the measure above would have caught: every text read against every name."""
    said = texts(*town(2), 100, seed=7)
    assert work(ScanningPlaceNames, 40, said) > 5 * work(ScanningPlaceNames, 4, said)  # about 10x


def owners_by_reading_everyone(area: str, residents: list[str]) -> set[str]:
    """``area_owners`` as it was: every resident's name looked for in the area's name."""
    text = owner_text(area)
    named = names_before_possessives(text)
    return {name for name in residents if name.casefold() in named or f"{name.casefold()}'s" in text}


def test_owners_looked_up_are_those_found_by_reading_every_name():
    places, residents = town(3)
    areas = [area.name for place in load_scenario(WORLDS / "smallville.yaml").places for area in place.areas]
    areas += [f"{a} #{k}" for a in areas for k in (2, 3)]
    areas += ["the John Lin's bedroom", "Mei & John Lin\u2019s room #2", "Xjohn Lin's desk", "Jennifer Moore and Sam's",
              "Sam Moore #3's study", "Maria Lopez's and Klaus Mueller's flat", "nobody's shed"]
    index = Residents(residents)
    assert sum(bool(owners_by_reading_everyone(a, residents)) for a in areas) > 20
    for area in areas:
        assert area_owners(area, index) == area_owners(area, residents) == owners_by_reading_everyone(area, residents)
