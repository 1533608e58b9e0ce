"""News travels by word of mouth: what one agent says becomes what its listener knows and retells.

The paper's headline result (Isabella's party, Sam's candidacy) needs a fact
to go from a persona, through a line of dialogue, into the listener's memory
(tagged with who said it and in which conversation), and on to a third
agent, without growing a wrapper at every hop. These runs use the agents'
plain answers (the fake backend's), so they hold for any failing model too.
"""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from agentville.agents.llm.asking import Unparseable
from agentville.agents.talk.takeaway import core, news_in, parse, plain
from agentville.sim.lab import metrics
from agentville.sim.runtime.runner import assemble
from agentville.sim.scenario import load_scenario
from agentville.sim.store.eventstore import EventStore
from tests.scripted import ScriptedBackend

PARTY = "Ann is throwing a birthday party at the Cafe on Friday at 6 pm"
TOWN = textwrap.dedent(f"""\
    name: Gossip town
    start: 2023-02-13T07:00
    seed: 5
    places:
      - name: Cafe
        xy: [0, 0]
        areas:
          - name: hall
            objects: [counter, table]
      - name: Park
        xy: [5, 0]
        areas:
          - name: lawn
            objects: [bench, pond]
      - name: Ann's house
        kind: home
        xy: [0, 5]
        areas: [{{name: Ann's room, objects: [bed]}}]
      - name: Bob's house
        kind: home
        xy: [5, 5]
        areas: [{{name: Bob's room, objects: [bed]}}]
      - name: Cid's house
        kind: home
        xy: [10, 5]
        areas: [{{name: Cid's room, objects: [bed]}}]
    paths:
      - {{between: [Cafe, Park], minutes: 5}}
      - {{between: [Cafe, Ann's house], minutes: 5}}
      - {{between: [Park, Bob's house], minutes: 5}}
      - {{between: [Park, Cid's house], minutes: 5}}
    personas:
      - name: Ann
        age: 30
        traits: cheerful, sociable
        currently: {PARTY}.
        home: "Ann's house: Ann's room"
        routine:
          - {{at: "07:00", activity: waking up, place: home}}
          - {{at: "08:00", activity: serving coffee, place: "Cafe: hall: counter"}}
          - {{at: "21:00", activity: sleeping, place: "Ann's house: Ann's room: bed"}}
      - name: Bob
        age: 41
        traits: quiet
        home: "Bob's house: Bob's room"
        routine:
          - {{at: "07:00", activity: waking up, place: home}}
          - {{at: "08:00", activity: reading the paper, place: "Cafe: hall: table"}}
          - {{at: "09:30", activity: walking by the pond, place: "Park: lawn: pond"}}
          - {{at: "21:00", activity: sleeping, place: "Bob's house: Bob's room: bed"}}
      - name: Cid
        age: 25
        traits: curious
        home: "Cid's house: Cid's room"
        routine:
          - {{at: "07:00", activity: waking up, place: home}}
          - {{at: "08:00", activity: feeding the ducks, place: "Park: lawn: bench"}}
          - {{at: "21:00", activity: sleeping, place: "Cid's house: Cid's room: bed"}}
    """)


@pytest.fixture
def gossip(tmp_path):
    path = tmp_path / "gossip.yaml"
    path.write_text(TOWN)
    scenario = load_scenario(path)
    backend = ScriptedBackend({"reaction": "talk", "conversation_end": "no", "revise_needed": "yes"})
    with EventStore(tmp_path / "run.db") as store:
        sim = assemble(scenario, store=store, backend=backend)
        summary = sim.run(scenario.start + dt.timedelta(hours=5))
        return store.events(summary.run_id), sim


def memories_of(events, agent):
    rows = events[(events.kind == "memory") & (events.agent == agent)]
    return list(rows.data)


def test_a_fact_said_in_a_conversation_reaches_the_listeners_memory_with_its_provenance(gossip):
    events, _ = gossip
    heard = [m for m in memories_of(events, "Bob") if "birthday party" in m["text"] and m.get("source")
             and m["text"].startswith("Ann told")]
    assert heard, "Bob never learned of the party from Ann"
    first = heard[0]
    assert first["kind"] == "chat" and first["subject"] == "Ann"
    assert first["text"] == f"Ann told Bob: {PARTY}"
    starts = events[events.kind == "conversation_start"]
    talk = starts[starts.data.map(lambda d: d["conversation"] == first["source"])].iloc[0]
    assert {talk.agent, talk.data["partner"]} == {"Ann", "Bob"}


def test_a_listener_retells_it_to_a_third_agent_without_nesting(gossip):
    events, sim = gossip
    heard = [m for m in memories_of(events, "Cid") if "birthday party" in m["text"] and m.get("source")
             and m["text"].startswith("Bob told")]
    assert heard, "Cid never heard of the party"
    assert heard[0]["subject"] == "Bob" and heard[0]["text"] == f"Bob told Cid: {PARTY}"
    tree = metrics.diffusion(events, ["birthday party"], {"Ann": sim.agents["Ann"].persona.currently})
    rows = {r.agent: r for r in tree.itertuples()}
    assert rows["Ann"].how == "at start"
    assert (rows["Bob"].how, rows["Bob"].source, rows["Bob"].place) == ("conversation", "Ann", "Cafe")
    assert (rows["Cid"].how, rows["Cid"].source, rows["Cid"].place) == ("conversation", "Bob", "Park")
    assert rows["Bob"].sim_time < rows["Cid"].sim_time
    assert "Cid" in metrics.tree_text(tree)


def test_an_invitation_leaves_the_listener_something_to_do(gossip):
    events, _ = gossip
    thoughts = [m for m in memories_of(events, "Bob") if m["kind"] == "thought" and m.get("source")]
    assert thoughts and "birthday party" in thoughts[0]["text"]
    asked = [d["prompt"] for a, k, d in zip(events.agent, events.kind, events.data)
             if a == "Bob" and k == "llm_call" and d["purpose"] == "revise_schedule"]
    assert any("birthday party" in prompt for prompt in asked)  # it rethinks its day with the news in mind


@pytest.mark.parametrize("line, said", [
    ("Hi Bob! You know, Ann is throwing a party on Friday.", "Ann is throwing a party on Friday"),
    ("You know, Bob told Cid: Ann is throwing a party on Friday.", "Ann is throwing a party on Friday"),
    ("Did you hear? Ann told me that the cafe closes early", "the cafe closes early"),
    ("Good morning, Ann. The pond froze over last night!", "The pond froze over last night"),
])
def test_the_core_of_a_line_drops_greetings_openers_and_relays(line, said):
    assert core(line) == said


@pytest.mark.parametrize("line", ["Hi Bob! How is your day going?", "Good, thanks! I'm reading. And you?",
                                  "Anyway, I should get back to it. See you later, Bob!", "Not much new here, Bob."])
def test_small_talk_is_not_news(line):
    assert news_in(line) is None


@pytest.mark.parametrize("text, learned, next_step", [
    ("- Ann is throwing a party on Friday\n- Ann thinks the cafe is too quiet\nNext: bring a cake",
     ["Ann is throwing a party on Friday", "Ann thinks the cafe is too quiet"], "bring a cake"),
    ("- nothing new\nNext: nothing", [], None),
    ("- Ann is throwing a party on Friday\n\nLater that day", ["Ann is throwing a party on Friday"], None),
    ("- Ann is throwing a party\n- ann is throwing a party\nNext: none", ["Ann is throwing a party"], None),
    ("* The pond froze over last night.\nNext: go skating.", ["The pond froze over last night"], "go skating"),
    ("- Kuhl Mueller: I am going to buy a loaf of bread\nNext: nothing",
     ["Ann said: I am going to buy a loaf of bread"], None),  # a copied line is kept as the other's words
])
def test_takeaways_parse(text, learned, next_step):
    result = parse(text, "Bob", "Ann")
    assert (result.learned, result.next_step) == (learned, next_step)


def test_a_takeaway_without_any_item_is_unparseable():
    with pytest.raises(Unparseable):
        parse("-\nWell, it was a nice chat.", "Bob")


class _Stub:
    def __init__(self, name):
        self.name = name


class _Talk:
    def __init__(self, lines):
        self.lines = lines


def test_the_plain_takeaway_keeps_the_other_ones_news_and_parses():
    talk = _Talk([("Ann", f"Hi Bob! You know, {PARTY}."), ("Bob", "Good, thanks! I'm reading. And you?"),
                  ("Ann", "You know, the new espresso machine finally arrived this morning.")])
    answer = plain(_Stub("Bob"), _Stub("Ann"), talk)
    result = parse("-" + answer, "Bob")
    assert result.learned == [f"Ann told Bob: {PARTY}",
                              "Ann told Bob: the new espresso machine finally arrived this morning"]
    assert result.next_step == f"keep in mind what Ann said: {PARTY}"


def test_an_invitation_heard_on_one_day_brings_the_listeners_to_the_party_the_next(tmp_path):
    party = "Ann is throwing a birthday party at the Cafe on February 14th from 6 pm to 8 pm"
    path = tmp_path / "party.yaml"
    path.write_text(TOWN.replace(PARTY, party))
    scenario = load_scenario(path)
    backend = ScriptedBackend({"reaction": "talk", "conversation_end": "no"})
    with EventStore(tmp_path / "run.db") as store:
        sim = assemble(scenario, store=store, backend=backend)
        summary = sim.run(dt.datetime(2023, 2, 14, 19, 30))
        events = store.events(summary.run_id)
    plans = {(a, d["date"]): d for a, d in zip(events.agent, events.data) if d.get("level") == "day"}
    for guest in ("Bob", "Cid"):
        tuesday = plans[guest, "2023-02-14"]
        assert "going to the birthday party at Cafe at 18:00" in tuesday["strokes"]
        assert {"start": "18:00", "end": "20:00", "activity": "going to the birthday party at Cafe"} in \
            tuesday["schedule"]
        monday = plans[guest, "2023-02-13"]
        assert not [r for r in monday["schedule"] if "party" in r["activity"]]  # only on the day it is
    start, end = ((dt.datetime(2023, 2, 14, h) - scenario.start).total_seconds() for h in (18, 20))
    assert {"Bob", "Cid"} <= set(metrics.attendance(events, "Cafe", start, end))


def test_commitments_are_read_for_their_day_and_fitted_into_the_habitual_day():
    from agentville.agents.planning.commitments import Commitment, fit

    lines = ["08:00 serving coffee", "12:00 eating lunch", "17:00 reading", "19:00 cooking dinner", "22:00 sleeping"]
    party = Commitment(18 * 60, 20 * 60, "going to the party at the Cafe")
    assert fit(lines, 7 * 60, [party], 22 * 60) == [
        "08:00 serving coffee", "12:00 eating lunch", "17:00 reading", "18:00 going to the party at the Cafe",
        "20:00 cooking dinner", "22:00 sleeping"]
    late = Commitment(23 * 60, 24 * 60, "going to the late show")  # after bedtime: not fitted in
    assert fit(lines, 7 * 60, [late], 22 * 60) == lines


class _Town:
    """What commitments read of an agent: the town's place names and its clock."""

    def __init__(self, start: dt.datetime):
        self.world = type("World", (), {"places_named_in": staticmethod(
            lambda text: ["Hobbs Cafe"] if "Hobbs Cafe" in text else [])})()
        self.clock = type("Clock", (), {"at": staticmethod(lambda s: start + dt.timedelta(seconds=s))})()


@pytest.mark.parametrize("text, heard_on, day, expected", [
    ("Isabella is planning a party at Hobbs Cafe on February 14th from 5 pm to 7 pm", 13, 14,
     (17 * 60, 19 * 60, "going to the party at Hobbs Cafe")),
    ("Maria means to go to the poetry reading on Tuesday at 7:30 pm", 13, 14,
     (19 * 60 + 30, 21 * 60 + 30, "going to the poetry reading")),
    ("Klaus will join the 14 February dinner at 8 pm", 10, 14, (20 * 60, 22 * 60, "going to the 14 February dinner")),
    ("there is a concert tomorrow at 9 pm", 13, 14, (21 * 60, 23 * 60, "going to the concert")),
    ("there is a concert tomorrow at 9 pm", 12, 14, None),  # "tomorrow" two days ago was yesterday
    ("a party at Hobbs Cafe on February 15th at 5 pm", 13, 14, None),  # another day
    ("Isabella is planning a party on February 14th", 13, 14, None),  # no hour: nothing to fit in
    ("Klaus is busy on February 14th at 5 pm", 13, 14, None),  # no event
])
def test_a_commitment_is_an_event_with_an_hour_on_its_day(text, heard_on, day, expected):
    from agentville.agents.memory.stream import MemoryNode
    from agentville.agents.planning import commitments

    start = dt.datetime(2023, 2, heard_on, 9)
    agent = type("Agent", (), {"ctx": _Town(start)})()
    memory = MemoryNode(1, "chat", text, 0.0, 0.0, 5, source="x/1")
    found = None
    if commitments._names_day(text, dt.date(2023, 2, day), agent, memory):
        found = commitments.read(text, agent)
    assert (None if found is None else (found.start, found.end, found.activity)) == expected


def test_a_speaker_tells_its_news_one_piece_per_line_skipping_none():
    from agentville.agents.memory.stream import MemoryNode, MemoryStream
    from agentville.agents.talk.conversation import Conversation
    from agentville.agents.talk.dialogue import default_line
    from agentville.sim.scenario import CognitionSpec

    ann = type("Ann", (), {"name": "Ann", "currently": PARTY + ".", "activity": "serving coffee",
                           "memory": MemoryStream(), "cognition": CognitionSpec()})()
    bob = type("Bob", (), {"name": "Bob", "currently": "", "activity": "reading", "memory": MemoryStream(),
                           "cognition": CognitionSpec()})()
    memories = [MemoryNode(i, "event", text, 0.0, 0.0, 5) for i, text in enumerate(
        ["Ann has baked bread every Sunday for ten years", "the new espresso machine arrived this morning"])]
    talk = Conversation("Ann/1", "Ann", "Bob", None, 0.0, None)
    for who, listener in [(ann, bob), (bob, ann), (ann, bob), (bob, ann), (ann, bob)]:
        talk.lines.append((who.name, default_line(who, listener, talk, memories if who is ann else [], False).strip()))
    said = [line for who, line in talk.lines if who == "Ann"]
    assert said == [f"Hi Bob! You know, {PARTY}.", "You know, Ann has baked bread every Sunday for ten years.",
                    "You know, the new espresso machine arrived this morning."]


def test_a_models_schedule_that_forgets_the_party_gets_it_back(tmp_path):
    """The plain plan fitted commitments in, but a model's own schedule was taken as written: a small model
    that wrote its usual day left every invited guest at home."""
    party = "Ann is throwing a birthday party at the Cafe on February 14th from 6 pm to 8 pm"
    path = tmp_path / "party.yaml"
    path.write_text(TOWN.replace(PARTY, party))
    usual = "08:00 going about the day\n12:00 eating lunch\n17:00 reading a book\n21:00 relaxing\n22:30 sleeping"
    # the model writes its usual day where the plain schedule would go to the party (after hearing of it)
    forgets = lambda request: usual if "party" in (request.default or "") else request.default  # noqa: E731
    backend = ScriptedBackend({"reaction": "talk", "conversation_end": "no", "schedule": forgets})
    scenario = load_scenario(path)
    with EventStore(tmp_path / "run.db") as store:
        summary = assemble(scenario, store=store, backend=backend).run(dt.datetime(2023, 2, 14, 19, 30))
        events = store.events(summary.run_id)
    plans = {(a, d["date"]): d for a, d in zip(events.agent, events.data) if d.get("level") == "day"}
    for guest in ("Bob", "Cid"):
        tuesday = [(r["start"], r["end"], r["activity"]) for r in plans[guest, "2023-02-14"]["schedule"]]
        assert ("17:00", "18:00", "reading a book") in tuesday  # the model's day stands around it
        assert ("18:00", "20:00", "going to the birthday party at Cafe") in tuesday
        assert ("20:00", "21:00", "reading a book") in tuesday  # what it was doing, resumed
        assert not [r for r in plans[guest, "2023-02-13"]["schedule"] if "party" in r["activity"]]
    start, end = ((dt.datetime(2023, 2, 14, h) - scenario.start).total_seconds() for h in (18, 20))
    assert {"Bob", "Cid"} <= set(metrics.attendance(events, "Cafe", start, end))


def test_a_schedule_that_plans_the_event_itself_is_left_as_it_is():
    from agentville.agents.planning.commitments import Commitment, kept

    party = Commitment(18 * 60, 20 * 60, "going to the party at the Cafe", "party")
    own = [(8 * 3600.0, "working"), (17.5 * 3600, "heading to Ann's party"), (21 * 3600.0, "sleeping")]
    assert kept(own, 0.0, [party]) == own
    late = Commitment(22 * 60, 23 * 60, "going to the late show", "show")  # after bedtime
    assert kept(own, 0.0, [late]) == own
    early = Commitment(7 * 60, 8 * 60, "going to the breakfast", "breakfast")  # before the day's first line
    assert kept(own, 0.0, [early]) == own
