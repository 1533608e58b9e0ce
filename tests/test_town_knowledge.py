"""What residents know of their town: public places, `knows`, names as people say them, and shared rooms."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from agentville.agents.planning.places import choose_location
from agentville.sim.core.location import Location, area_owners
from agentville.sim.runtime.runner import assemble
from agentville.sim.scenario import Scenario, load_scenario
from agentville.sim.store.eventstore import EventStore
from agentville.sim.world.geography import World
from tests.conftest import TINY, WORLDS
from tests.scripted import ScriptedBackend

# Bob has no routine and his texts name no place: before, he knew only his home and never left it.
HERMIT = TINY.replace(TINY[TINY.index('    home: "Home: kitchen"'):TINY.index("interventions:")],
                      '    home: "Home: kitchen"\n')


def load(tmp_path: Path, text: str) -> Scenario:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return load_scenario(path)


def simulate(scenario: Scenario, tmp_path: Path, backend: ScriptedBackend, hours: float = 14):
    with EventStore(tmp_path / "run.db") as store:
        sim = assemble(scenario, store=store, backend=backend)
        summary = sim.run(scenario.start + dt.timedelta(hours=hours))
        return store.events(summary.run_id), sim


def going_out(request) -> str:
    """A model that would rather go somewhere other than where the agent is."""
    return next((o for o in request.options if o != "Home"), request.options[0])


def offered(backend: ScriptedBackend, agent: str, purpose: str) -> list[set[str]]:
    return [set(r.options) for r in backend.requests if r.purpose == purpose and r.agent == agent]


def places_arrived(events, agent: str) -> set[str]:
    mine = events[(events.kind == "arrived") & (events.agent == agent)]
    return {d["location"].split(":")[0] for d in mine.data}


# -- public places and `knows` ----------------------------------------------------
def test_a_resident_whose_texts_name_no_place_knows_the_public_places_and_leaves_home(tmp_path):
    scenario = load(tmp_path, HERMIT)
    world = World(scenario)
    assert world.public_places == ["Cafe", "Park"]  # Home is lived in
    bob = next(p for p in scenario.personas if p.name == "Bob")
    assert world.places_known_to(bob) == {"Home", "Cafe", "Park"}
    backend = ScriptedBackend({"location_place": going_out})
    events, _ = simulate(scenario, tmp_path, backend)
    choices = offered(backend, "Bob", "location_place")
    assert choices and all({"Home", "Cafe", "Park"} <= options for options in choices)
    assert places_arrived(events, "Bob") - {"Home"}, "Bob never left home"


def test_residents_know_own_keeps_to_home_routine_and_texts(tmp_path):
    scenario = load(tmp_path, HERMIT.replace("seed: 3\n", "seed: 3\ntown: {residents_know: own}\n"))
    world = World(scenario)
    ann, bob = scenario.personas
    assert world.places_known_to(bob) == {"Home"}
    assert world.places_known_to(ann) == {"Home", "Cafe", "Park"}  # her routine's places, and her memories name both


def test_knows_replaces_the_public_places(tmp_path):
    scenario = load(tmp_path, HERMIT.replace('    home: "Home: kitchen"\n',
                                             '    home: "Home: kitchen"\n    knows: [Park]\n'))
    bob = next(p for p in scenario.personas if p.name == "Bob")
    assert World(scenario).places_known_to(bob) == {"Home", "Park"}
    backend = ScriptedBackend({"location_place": going_out})
    events, _ = simulate(scenario, tmp_path, backend, hours=6)
    choices = offered(backend, "Bob", "location_place")
    assert choices and all("Cafe" not in options for options in choices)
    assert "Park" in places_arrived(events, "Bob")


def test_a_place_can_be_declared_public_or_not(tmp_path):
    text = HERMIT.replace("  - name: Park\n", "  - name: Park\n    public: false\n").replace(
        "  - name: Home\n", "  - name: Home\n    public: true\n")
    assert World(load(tmp_path, text)).public_places == ["Cafe", "Home"]


def test_smallville_residents_know_the_shops_but_not_strangers_houses():
    scenario = load_scenario(WORLDS / "smallville.yaml")
    world = World(scenario)
    assert set(world.public_places) == {"Hobbs Cafe", "The Rose and Crown Pub", "Johnson Park", "Oak Hill College",
                                        "The Willows Market and Pharmacy", "Harvey Oak Supply Store"}
    for persona in scenario.personas:
        known = world.places_known_to(persona)
        assert set(world.public_places) <= known and world.resolve(persona.home).place in known
        assert "Adam Smith's house" not in known or persona.name == "Adam Smith"


# -- names as people say them ------------------------------------------------------
SMALLVILLE_NAMES = [  # (text, the places it names)
    ("Willow Market", {"The Willows Market and Pharmacy"}),  # the pharmacist's own words for his pharmacy
    ("John works at the willows market and pharmacy", {"The Willows Market and Pharmacy"}),
    ("THE WILLOWS MARKET AND PHARMACY", {"The Willows Market and Pharmacy"}),
    ("a latte at Hobbs Cafe's counter", {"Hobbs Cafe"}),
    ("a latte at Hobs Cafe", {"Hobbs Cafe"}),
    ("darts at the Rose & Crown", {"The Rose and Crown Pub"}),
    ("a seminar up at Oak Hill", {"Oak Hill College"}),
    ("Maria lives in the Dorm for Oak Hill College", {"Dorm for Oak Hill College"}),
    ("from the dorm to Oak Hill College and on to Johnson Park", {"Oak Hill College", "Johnson Park"}),
    ("canvas from Harvey Oak Supply", {"Harvey Oak Supply Store"}),
    ("dinner at Isabella Rodriguez\u2019s apartment", {"Isabella Rodriguez's apartment"}),
    ("the Lin family lives next door", {"Lin family's house"}),
    # never on the strength of one common word, nor of residents' names
    ("a walk in the park", set()),
    ("coffee at the cafe", set()),
    ("a prescription from the pharmacy", set()),
    ("shopping at the market", set()),
    ("Ryan Park is a friend", set()),
    ("Hailey Johnson writes every day", set()),
    ("a rose for Valentine's Day", set()),
    ("the college library", set()),
    ("a family house", set()),
    ("Tamara Taylor and Carmen Ortiz live next door", set()),
    ("a pint at Hobbs Pub", set()),
]


@pytest.fixture(scope="module")
def smallville() -> Scenario:
    return load_scenario(WORLDS / "smallville.yaml")


@pytest.mark.parametrize(("text", "places"), SMALLVILLE_NAMES, ids=[t for t, _ in SMALLVILLE_NAMES])
def test_places_named_in_free_text(smallville, text, places):
    """By their names alone (the bundled town's aliases aside)."""
    unaliased = [p.model_copy(update={"aliases": []}) for p in smallville.places]
    assert set(World(smallville.model_copy(update={"places": unaliased})).places_named_in(text)) == places


@pytest.mark.parametrize(("text", "places"), [
    ("a walk in the park", {"Johnson Park"}),
    ("Ryan Park and Giorgio Rossi play darts at the pub", {"The Rose and Crown Pub"}),
    ("Mei is married to John Lin, who works at the pharmacy", {"The Willows Market and Pharmacy"}),
    ("lunch at the college cafeteria, then the cafe", {"Oak Hill College", "Hobbs Cafe"}),
])
def test_smallville_aliases(smallville, text, places):
    assert set(World(smallville).places_named_in(text)) == places


@pytest.mark.parametrize(("text", "places"), [
    ("a walk in the park", {"Park"}),  # a one-word name is matched whole
    ("Ann runs the cafe", {"Cafe"}),
    ("the parking lot by the cafeteria", set()),
    ("coffee at the coffee house", {"Cafe"}),  # an alias
    ("over at Chez Ann's", {"Cafe"}),
])
def test_one_word_names_and_aliases(tmp_path, text, places):
    scenario = load(tmp_path, TINY.replace("  - name: Cafe\n", "  - name: Cafe\n    aliases: [the Coffee House, Chez Ann]\n"))
    assert set(World(scenario).places_named_in(text)) == places


def test_an_activity_naming_a_known_place_as_people_do_happens_there_without_asking(tmp_path):
    text = HERMIT.replace("  - name: Park\n", "  - name: Park\n    aliases: [the green]\n")
    with EventStore(tmp_path / "run.db") as store:
        bob = assemble(load(tmp_path, text), store=store, backend=ScriptedBackend()).agents["Bob"]
        for activity in ("reading a book on the Green", "a stroll in the park"):
            walk = choose_location(bob, activity)
            with pytest.raises(StopIteration) as done:
                next(walk)  # no question to the model: the activity names the place
            assert done.value.value == Location("Park", "lawn", None)


# -- rooms shared by several residents ---------------------------------------------
OWNERS = [  # (area, the residents it belongs to), names as the reference writes them and as people vary them
    ("Mei and John Lin's bedroom", {"Mei Lin", "John Lin"}),
    ("Sam Moore and Jennifer Moore's bedroom", {"Sam Moore", "Jennifer Moore"}),
    ("Jennifer and Sam Moore's bedroom", {"Sam Moore", "Jennifer Moore"}),
    ("Tom and Jane Moreno's bedroom", {"Tom Moreno", "Jane Moreno"}),
    ("Mei & John Lin\u2019s bedroom", {"Mei Lin", "John Lin"}),
    ("jennifer moore and sam's bedroom", {"Sam Moore", "Jennifer Moore"}),
    ("Eddy Lin's bedroom", {"Eddy Lin"}),
    ("Latoya Williams' room", {"Latoya Williams"}),
    ("living room", set()),
]
RESIDENTS = ["Mei Lin", "John Lin", "Eddy Lin", "Sam Moore", "Jennifer Moore", "Tom Moreno", "Jane Moreno",
             "Latoya Williams"]


@pytest.mark.parametrize(("area", "owners"), OWNERS, ids=[a for a, _ in OWNERS])
def test_a_room_named_for_several_residents_is_each_ones(area, owners):
    assert area_owners(area, RESIDENTS) == owners


HOUSES = textwrap.dedent("""\
    name: Three houses
    start: 2023-02-13T06:00
    seed: 5
    places:
      - name: Lin family's house
        xy: [0, 0]
        areas:
          - name: kitchen
            objects: [stove, dining table]
          - name: Mei and John Lin's bedroom
            objects: [bed, reading chair]
          - name: Eddy Lin's bedroom
            objects: [bed, desk]
      - name: Moore family's house
        xy: [10, 0]
        areas:
          - name: kitchen
            objects: [stove]
          - name: Jennifer and Sam Moore's bedroom
            objects: [bed, reading chair]
      - name: Moreno family's house
        xy: [0, 10]
        areas:
          - name: garden
            objects: [bench]
          - name: Tom and Jane Moreno's bedroom
            objects: [bed, reading chair]
    paths:
      - {between: [Lin family's house, Moore family's house], minutes: 5}
      - {between: [Moore family's house, Moreno family's house], minutes: 5}
    personas:
    """)
SHARED = {"Lin family's house": "Mei and John Lin's bedroom", "Moore family's house": "Jennifer and Sam Moore's bedroom",
          "Moreno family's house": "Tom and Jane Moreno's bedroom"}
COUPLES = [("John Lin", "Mei Lin", "Lin family's house", "kitchen"),
           ("Jennifer Moore", "Sam Moore", "Moore family's house", "kitchen"),
           ("Jane Moreno", "Tom Moreno", "Moreno family's house", "garden")]


def houses() -> str:
    """Each couple shares a bedroom; the second of each (who lost it before) plans to read there mid-morning."""
    text = HOUSES
    for first, second, house, other in COUPLES:
        room = f"{house}: {SHARED[house]}"
        text += f'  - {{name: {first}, age: 45, traits: kind, home: "{room}"}}\n'
        text += (f'  - name: {second}\n    age: 44\n    traits: warm\n    home: "{room}"\n    routine:\n'
                 f'      - {{at: "07:30", activity: making breakfast, place: "{house}: {other}"}}\n'
                 f'      - {{at: "09:00", activity: reading a novel, place: "{room}: reading chair"}}\n'
                 f'      - {{at: "10:00", activity: tidying up, place: "{house}: {other}"}}\n')
    return text + '  - {name: Eddy Lin, age: 19, traits: shy, home: "Lin family\'s house: Eddy Lin\'s bedroom"}\n'


def test_each_co_owner_of_a_shared_bedroom_is_placed_in_plans_for_and_chooses_it(tmp_path):
    scenario = load(tmp_path, houses())
    world = World(scenario)
    for first, second, house, _ in COUPLES:
        assert world.private_areas[house, SHARED[house]] == {first, second}

    def bedroom_please(request) -> str:  # the model picks the shared bedroom whenever it is offered
        return next((o for o in request.options if " and " in o), request.default or request.options[0])

    backend = ScriptedBackend({"location_area": bedroom_please})
    events, _ = simulate(scenario, tmp_path, backend, hours=12)
    placed = {e.agent: e.data["location"] for e in events[events.kind == "placed"].itertuples()}
    for first, second, house, _ in COUPLES:
        bedroom = f"{house}: {SHARED[house]}"
        assert placed[first] == placed[second] == bedroom  # placed in it
        arrived = events[(events.kind == "arrived") & (events.agent == second)].data
        assert any(d["location"].startswith(bedroom) for d in arrived), f"{second} never went back to the bedroom"
        assert all(SHARED[house] in options for options in offered(backend, first, "location_area"))
        acted = events[(events.kind == "action") & (events.agent == first)]
        assert any(d["location"].startswith(bedroom) and d["activity"] != "sleeping" for d in acted.data)
    for options in offered(backend, "Eddy Lin", "location_area"):
        assert SHARED["Lin family's house"] not in options
    assert any(offered(backend, "John Lin", "location_area"))
    assert not any("Eddy Lin's bedroom" in options for options in offered(backend, "John Lin", "location_area"))


def test_residents_know_the_public_places_of_their_neighbourhood_not_of_the_whole_town(smallville):
    """In a town of 10 copies in a row (15 minutes' walk apart), Isabella knows the cafes an hour's walk away."""
    from agentville.sim.scenario.growing import grown

    town = grown(smallville, 250)
    isabella = town.personas[0]
    known = World(town).places_known_to(isabella)
    assert {"Hobbs Cafe", "Hobbs Cafe #2"} <= known
    assert "Hobbs Cafe #10" not in known
    assert len(known) < 4 * len(World(smallville).places_known_to(isabella))
    wider = town.model_copy(update={"town": town.town.model_copy(update={"public_within_minutes": 10_000})})
    assert "Hobbs Cafe #10" in World(wider).places_known_to(isabella)
    assert World(smallville).places_known_to(isabella) >= set(World(smallville).public_places)  # the town whole
