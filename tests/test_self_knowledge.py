"""Agents know themselves: their own actions, who they are these days, what they have concluded already;
and what they see of the town around them is true (objects, people back from a conversation)."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest

from agentville.agents.memory.reflection import normalized
from agentville.agents.perception import Perception
from agentville.sim.core.location import Location
from agentville.sim.generation import FakeBackend
from agentville.sim.runtime.runner import assemble
from agentville.sim.scenario import load_scenario
from agentville.sim.store.eventstore import EventStore

from .conftest import TINY, WORLDS
from .scripted import ScriptedBackend

AT_THE_CAFE = {"location_place": "Cafe"}  # every activity happens at the cafe


def simulate(tiny, tmp_path, hours, answers=None, name="run.db", **cognition):
    store = EventStore(tmp_path / name)
    backend = ScriptedBackend({**AT_THE_CAFE, **(answers or {})})
    sim = assemble(tiny, store=store, backend=backend, cognition=tiny.cognition.model_copy(update=cognition))
    summary = sim.run(tiny.start + dt.timedelta(hours=hours))
    return store.events(summary.run_id), sim, backend


def own_memories(events, agent):
    mine = events[(events.kind == "memory") & (events.agent == agent)]
    return [d["text"] for d in mine.data if d["subject"] == agent]


# -- 1. its own actions ----------------------------------------------------------------------------------------
def test_own_actions_are_remembered_once_per_activity_and_sleep_once_a_night(tiny, tmp_path):
    events, sim, _ = simulate(tiny, tmp_path, hours=40)
    for agent in ("Ann", "Bob"):
        actions = events[(events.kind == "action") & (events.agent == agent)]
        steps = [d["activity"] for d in actions.data if not d["activity"].startswith(("talking with", "waiting for"))]
        mine = own_memories(events, agent)
        assert mine and all(text.startswith(f"{agent} is ") for text in mine)
        assert {text.removeprefix(f"{agent} is ").rsplit(" at ", 1)[0] for text in mine} == set(steps)
        assert len(mine) < len(steps) / 2  # once per activity, not once per step of it
        assert not [a for a, b in itertools.pairwise(mine) if a == b]
        assert sum(text.startswith(f"{agent} is sleeping") for text in mine) == 2  # two nights, once each
    assert "Ann is opening the cafe at Cafe" in own_memories(events, "Ann")


def test_the_own_action_comes_with_the_sights_of_the_step(tiny, tmp_path):
    events, _, _ = simulate(tiny, tmp_path, hours=3)
    bob = events[(events.kind == "memory") & (events.agent == "Bob")]
    reading = bob[bob.data.map(lambda d: d["text"] == "Bob is getting started: reading at Cafe")].iloc[0]
    same_moment = bob[bob.time == reading.time]
    assert same_moment.data.iloc[0]["subject"] == "Bob"  # its own action first, then what it sees
    assert any(d["subject"] == "Ann" for d in same_moment.data)


# -- 2. who it is these days -----------------------------------------------------------------------------------
def test_identity_is_revised_nightly_logged_and_used_the_next_day(tiny, tmp_path):
    def status(request):
        return f" {request.agent} is organising a picnic in the park for Saturday."

    events, sim, backend = simulate(tiny, tmp_path, hours=28, answers={"identity": status})
    revisions = events[events.kind == "identity"]
    assert sorted(revisions.agent) == ["Ann", "Bob"]
    for revision in revisions.itertuples():
        assert revision.data["previous"] == "" and revision.data["day"] == "2023-02-14"
        assert revision.data["currently"] == f"{revision.agent} is organising a picnic in the park for Saturday."
        assert sim.agents[revision.agent].currently == revision.data["currently"]
    for agent in ("Ann", "Bob"):
        plans = [r.prompt for r in backend.requests if r.purpose == "day_plan" and r.agent == agent]
        assert len(plans) == 2
        assert "picnic" not in plans[0] and f"{agent} is organising a picnic in the park for Saturday." in plans[1]
        assert sim.agents[agent].persona_text in plans[1]
        # until it is revised, the persona block is one text, so the prompts of the day share it
        persona = re.compile(rf"{agent}, \d+\. Traits:.*?\nLifestyle: [^\n]*", re.S)
        asked = [r for r in backend.requests if r.agent == agent]
        revised = next(i for i, r in enumerate(asked) if r.purpose == "identity")
        blocks = [persona.findall(r.prompt) for r in asked]
        assert len({b for found in blocks[:revised + 1] for b in found}) == 1
        assert {b for found in blocks[revised + 1:] for b in found} == {sim.agents[agent].persona_text}


def test_the_plain_revision_adds_the_days_news(tiny, tmp_path):
    events, sim, _ = simulate(tiny, tmp_path, hours=20)
    bob = events[(events.kind == "identity") & (events.agent == "Bob")].data.iloc[0]
    assert "I should ask Ann about the party." in bob["currently"]  # the whisper of the day
    assert sim.agents["Bob"].persona_text.count("ask Ann about the party") == 1


# -- 3. attention ----------------------------------------------------------------------------------------------
def smallville_cafe(tmp_path):
    sim = assemble(load_scenario(WORLDS / "smallville.yaml"), store=EventStore(tmp_path / "s.db"),
                   backend=FakeBackend())
    sim.start()
    return sim


def test_attention_takes_the_most_salient_first(tmp_path):
    sim = smallville_cafe(tmp_path)
    town, cafe = sim.town, Location("Hobbs Cafe", "cafe")
    counter, piano = Location("Hobbs Cafe", "cafe", "cafe counter"), Location("Hobbs Cafe", "cafe", "piano")
    others = sorted(n for n in sim.agents if n != "Klaus Mueller")[:6]
    for name in others:
        town.place(name, cafe)
        town.start_action(name, "drinking coffee", f"{name} is drinking coffee")
    town.set_object(piano, "being tuned")  # no one in view is using it
    at_my_counter, greeting_me, newest = others[-1], others[-2], others[-3]
    town.locations[at_my_counter] = counter
    town.start_action(greeting_me, "waving at Klaus Mueller", "")
    town.since[newest] = 10.0  # started its coffee last
    town.place("Klaus Mueller", counter)
    eyes = Perception("Klaus Mueller", bandwidth=3)
    first = [o.subject for o in eyes.notice(sim, counter)]
    # those dealing with it (by name, when they started at the same moment), then whoever started last;
    # not the first three names in the alphabet
    assert first == [greeting_me, at_my_counter, newest]
    second = [o.subject for o in eyes.notice(sim, counter)]
    assert second == others[:3]
    assert [o.subject for o in eyes.notice(sim, counter)] == [str(piano)]  # objects after people


def test_an_object_in_use_by_someone_in_view_is_not_news(tmp_path):
    sim = smallville_cafe(tmp_path)
    town, cafe = sim.town, Location("Hobbs Cafe", "cafe")
    machine = Location("Hobbs Cafe", "cafe", "coffee machine")
    town.place("Isabella Rodriguez", machine)
    town.start_action("Isabella Rodriguez", "making coffee", "")
    town.set_object(machine, "in use by Isabella Rodriguez: making coffee", "Isabella Rodriguez")
    town.place("Klaus Mueller", cafe)
    seen = Perception("Klaus Mueller").notice(sim, cafe)
    assert [o.text for o in seen] == ["Isabella Rodriguez is making coffee"]
    town.locations["Isabella Rodriguez"] = Location("Hobbs Cafe", "kitchen")  # gone without a word (say)
    town._occupants[cafe.area_key].discard("Isabella Rodriguez")
    assert [o.text for o in Perception("Klaus Mueller").notice(sim, cafe)] == [
        "the coffee machine is in use by Isabella Rodriguez: making coffee"]


def test_no_memory_of_an_object_in_use_by_someone_seen(tiny, tmp_path):
    events, _, _ = simulate(tiny, tmp_path, hours=12)
    texts = [d["text"] for d in events[events.kind == "memory"].data]
    assert any(t.startswith("Ann is ") for t in texts) and not [t for t in texts if "in use by" in t]


# -- 4. objects and conversations ------------------------------------------------------------------------------
def test_leaving_an_object_resets_it_only_for_its_current_user(tiny, tmp_path):
    sim = assemble(tiny, store=EventStore(tmp_path / "t.db"), backend=FakeBackend())
    sim.start()
    town, counter = sim.town, Location("Cafe", "hall", "counter")
    town.set_object(counter, "in use by Ann: serving coffee", "Ann")
    town.set_object(counter, "in use by Bob: fixing the till", "Bob")
    town.set_object(counter, None, "Ann")  # Ann leaves: Bob is still at it
    assert town.object_states[counter] == "in use by Bob: fixing the till" and town.user(counter) == "Bob"
    town.set_object(counter, None, "Ann")  # not hers to reset twice
    assert town.object_states[counter] == "in use by Bob: fixing the till"
    town.set_object(counter, None, "Bob")
    assert town.object_states[counter] == "idle" and town.user(counter) is None
    town.set_object(counter, "in use by Ann: serving coffee", "Ann")
    town.set_object(counter, "in use by Bob: fixing the till", "Bob")
    town.set_object(counter, None, "Bob")  # Bob leaves first: Ann's use shows again
    assert town.object_states[counter] == "in use by Ann: serving coffee"


def test_in_a_run_only_the_last_user_frees_an_object(tmp_path):
    shared = tmp_path / "shared.yaml"  # Bob reads at Ann's counter, and the one who leaves first must not free it
    shared.write_text(TINY.replace('reading, place: "Cafe: hall: table"', 'reading, place: "Cafe: hall: counter"'))
    events, sim, _ = simulate(load_scenario(shared), tmp_path, hours=16)
    users: dict[str, list[str]] = {}
    resets = handed_over = 0
    for row in events[events.kind.isin(["object_state", "move"])].itertuples():
        if row.kind == "move":  # walking off: if it was not the latest user, it leaves without a change
            left = users.get(row.data["origin"], [])
            if row.agent in left:
                left.remove(row.agent)
                handed_over += 1
            continue
        state, here = row.data["state"], users.setdefault(row.data["location"], [])
        if state.startswith("in use by "):
            who = state.removeprefix("in use by ").split(":")[0]
            if who != row.agent:  # the latest user left: the use of the one before it shows again
                assert here[-1] == row.agent and here[-2] == who, (row.time, row.agent, here)
                here.remove(row.agent)
            elif who in here:
                here.remove(who)
            if who not in here:
                here.append(who)
        else:
            assert here and here[-1] == row.agent, (row.time, row.agent, here)  # the current user leaves
            here.remove(row.agent)
            assert not here  # and no one else is still using it
            resets += 1
    assert resets and handed_over  # each left it to the other at some point, and the last one freed it


@pytest.mark.parametrize("reaction", ["talk", "wait"])  # waiting for someone first does not change what it does
def test_after_a_conversation_each_goes_back_to_what_it_was_doing(tiny, tmp_path, reaction):
    lines = itertools.count()
    answers = {"reaction": reaction, "conversation_end": "no", "utterance": lambda r: f" Line number {next(lines)}."}
    events, _, _ = simulate(tiny, tmp_path, hours=4, answers=answers, conversation_turns=4)
    ends = events[events.kind == "conversation_end"]
    assert len(ends)
    actions = events[events.kind == "action"]
    for end in ends.itertuples():
        for agent in (end.agent, end.data["partner"]):
            mine = actions[actions.agent == agent]
            before = mine[mine.time <= end.time]
            talking = [i for i, d in enumerate(before.data) if d["activity"].startswith("talking with")][-1]
            doing = [d["activity"] for d in before.data.iloc[:talking]
                     if not d["activity"].startswith(("talking with", "waiting for"))][-1]
            back = before.iloc[-1]
            assert back.time == end.time and back.data["activity"] == doing  # at once, not at its next step
    if reaction == "wait":
        assert any(d["activity"].startswith("waiting for") for d in actions.data)


# -- 5. reflection ---------------------------------------------------------------------------------------------
def test_no_insight_is_made_up_when_the_model_gives_none(tiny, tmp_path):
    events, _, _ = simulate(tiny, tmp_path, hours=10, answers={"importance": "9"}, reflection_threshold=40,
                            importance="model")
    reflections = events[events.kind == "reflection"]
    assert len(reflections) >= 2 and all(d["insights"] == [] for d in reflections.data)
    thoughts = [d["text"] for d in events[events.kind == "memory"].data if d["kind"] == "thought"]
    assert not [t for t in thoughts if "keeps in mind" in t]
    for reflection in reflections.data:  # nor does an agent ask itself what it thinks of itself
        assert not [q for q in reflection["questions"] if q.count("Ann") > 1 or q.count("Bob") > 1]


def test_scripted_insights_are_stored_once(tiny, tmp_path):
    def insights(request):
        return (" The cafe is the heart of the town (because of 1)\n2. the cafe is the heart of the town! (because of 2)"
                "\n3. Mornings at the cafe are busy (because of 1, 2)")

    events, _, _ = simulate(tiny, tmp_path, hours=10, reflection_threshold=40, importance="model",
                            answers={"importance": "9", "reflection_insights": insights})
    reflections = events[events.kind == "reflection"]
    assert len(reflections[reflections.agent == "Ann"]) >= 2
    for agent in ("Ann", "Bob"):
        thoughts = [d for d in events[(events.kind == "memory") & (events.agent == agent)].data
                    if d["kind"] == "thought" and d["depth"] >= 1]
        assert sorted(normalized(d["text"]) for d in thoughts) == [
            "mornings at the cafe are busy", "the cafe is the heart of the town"]
        assert all(d["evidence"] for d in thoughts)
    later = [d["insights"] for d in reflections.data][2:]
    assert later and all(ids == [] for ids in later)  # drawn again, stored again: no


def test_plain_runs_stay_deterministic(tiny, tmp_path):
    a, _, _ = simulate(tiny, tmp_path, hours=28, name="a.db")
    b, _, _ = simulate(tiny, tmp_path, hours=28, name="b.db")
    assert list(zip(a.kind, a.agent, a.data, strict=True)) == list(zip(b.kind, b.agent, b.data, strict=True))
