"""Revisions: only the hours an event touches are planned again, and only a sensible revision replaces the plan."""

from __future__ import annotations

import datetime as dt
import re
import textwrap

import pytest

from agentville.agents.planning.revision import intention, read_revision
from agentville.agents.planning.schedule import Block
from agentville.sim.runtime.runner import assemble
from agentville.sim.scenario import load_scenario
from agentville.sim.store.eventstore import EventStore
from tests.scripted import ScriptedBackend

H = 3600
START = dt.datetime(2023, 2, 13, 7)

CAFE_TOWN = textwrap.dedent("""\
    name: Cafe town
    start: 2023-02-13T07:00
    seed: 11
    places:
      - name: Cafe
        xy: [0, 0]
        areas:
          - name: hall
            objects: [counter, table]
      - name: Market
        xy: [4, 0]
        areas:
          - name: store
            objects: [shelves]
      - name: Flat
        xy: [8, 0]
        areas:
          - name: bedroom
            objects: [bed]
    paths:
      - {between: [Cafe, Market], minutes: 3}
      - {between: [Market, Flat], minutes: 3}
    personas:
      - name: Isa
        age: 34
        traits: warm, busy
        learned: Isa runs the cafe.
        lifestyle: she goes to bed around 10 pm and wakes up around 7 am
        home: "Flat: bedroom"
        daily_requirements: [buy decorations for the party]
        routine:
          - {at: "07:00", activity: waking up, place: home}
          - {at: "08:00", activity: serving coffee at the cafe, place: "Cafe: hall: counter"}
          - {at: "10:00", activity: buying decorations for the party, place: "Market: store: shelves"}
          - {at: "11:00", activity: serving lunch at the cafe, place: "Cafe: hall: counter"}
          - {at: "15:00", activity: cleaning the cafe, place: "Cafe: hall: table"}
          - {at: "22:00", activity: sleeping, place: "Flat: bedroom: bed"}
    interventions:
      - at: 2023-02-13T09:30
        agent: Isa
        text: I should call my sister about the party.
    """)


def run(tmp_path, answers=None, hours=5.0, text=CAFE_TOWN, during=None):
    (tmp_path / "town.yaml").write_text(text)
    scenario = load_scenario(tmp_path / "town.yaml")
    backend = ScriptedBackend({"reaction": "carry on", **(answers or {})})
    with EventStore(tmp_path / "run.db") as store:
        sim = assemble(scenario, store=store, backend=backend)
        if during:
            sim.env.process(during(sim))
        summary = sim.run(scenario.start + dt.timedelta(hours=hours))
        return store.events(summary.run_id), backend


def plans(events, level):
    return [e.data for e in events[events.kind == "plan"].itertuples() if e.data["level"] == level]


def of_purpose(events, kind, purpose):
    return [d for d in events[events.kind == kind].data if d["purpose"] == purpose]


def doing_at(events, clock: str) -> str:
    seconds = (dt.datetime.fromisoformat(f"2023-02-13T{clock}") - START).total_seconds()
    actions = events[(events.kind == "action") & (events.sim_time <= seconds)]
    return actions.data.iloc[-1]["activity"]


def _now(request) -> str:
    return request.prompt.rstrip()[-5:]  # the prompt ends with the time the revision starts


def test_the_plain_revision_of_a_thought_changes_only_the_hours_it_touches(tmp_path):
    events, _ = run(tmp_path)
    day, = plans(events, "day")
    revision, = plans(events, "revision")
    assert revision["schedule"][0]["activity"] == "calling their sister about the party"
    window = [r for r in revision["schedule"] if r["start"] < "11:00"]
    assert window[-1]["activity"] == "buying decorations for the party" and window[-1]["end"] == "11:00"
    later = [r for r in day["schedule"] if r["start"] >= "11:00"]
    assert revision["schedule"][len(window):] == later  # the rest of the day stands as planned
    assert doing_at(events, "10:30").endswith("buying decorations for the party")


@pytest.mark.parametrize("answer", [
    "calling their sister\n10:00 serving coffee at the cafe\n\n",  # drops a daily requirement
    "getting a black coffee",  # garbage: one stray activity for the whole window
    "1. 2. 3.\n\n",  # garbage: no activity at all
    "calling their sister\n10:00 sleeping\n\n",  # bed hours before bedtime
])
def test_a_revision_that_drops_what_was_planned_or_is_garbage_is_rejected_and_the_plan_kept(answer, tmp_path):
    events, _ = run(tmp_path, {"revise_schedule": answer})
    assert not plans(events, "revision")
    failed = of_purpose(events, "parse_failed", "revise_schedule")
    assert len(failed) == 2 and of_purpose(events, "fallback", "revise_schedule")
    if "serving coffee" in answer:
        assert "daily requirement: buy decorations for the party" in failed[0]["reason"]
    assert doing_at(events, "09:50").endswith("serving coffee at the cafe")
    assert doing_at(events, "10:30").endswith("buying decorations for the party")


def test_a_revision_may_drop_what_the_reason_calls_off(tmp_path):
    def calls_off(sim):
        yield sim.env.timeout(2.5 * H)
        sim.agents["Isa"].ask_to_replan("Isa thought: the party is cancelled, no decorations to buy; I will rest instead.")

    def answer(request):
        return "resting at home\n10:00 serving coffee at the cafe\n\n"

    events, _ = run(tmp_path, {"revise_schedule": answer}, text=CAFE_TOWN.split("interventions:")[0],
                    during=calls_off)
    revision, = plans(events, "revision")
    assert "buying decorations for the party" not in {r["activity"] for r in revision["schedule"]}


def test_a_valid_revision_replaces_the_window_and_keeps_the_later_schedule(tmp_path):
    def answer(request):
        now = dt.datetime.strptime(_now(request), "%H:%M")
        return (f"calling their sister\n{now + dt.timedelta(minutes=10):%H:%M} serving coffee at the cafe\n"
                "10:00 buying decorations for the party\n10:40 tidying the counter\n13:00 napping\n\n")

    events, _ = run(tmp_path, {"revise_schedule": answer})
    day, = plans(events, "day")
    revision, = plans(events, "revision")
    activities = [r["activity"] for r in revision["schedule"]]
    assert activities[:4] == ["calling their sister", "serving coffee at the cafe",
                              "buying decorations for the party", "tidying the counter"]
    assert "napping" not in activities  # 13:00 is past the window: the later schedule stands
    assert revision["schedule"][4:] == [r for r in day["schedule"] if r["start"] >= "11:00"]
    assert not of_purpose(events, "fallback", "revise_schedule")


def test_read_revision_reads_clock_times_forward_across_midnight():
    floor = 26 * H  # 02:00 the next day
    blocks, bedtime = read_revision("02:00 checking the door\n02:30 guarding\n01:00 stray\n09:00 past the window",
                                    floor, 2 * 60, floor, floor + 5 * H, floor + 6 * H)
    assert blocks == [Block(floor, floor + 1800, "checking the door"), Block(floor + 1800, floor + 5 * H, "guarding")]
    assert bedtime == floor + 6 * H


def chat(sim, reason):
    yield sim.env.timeout(2.5 * H)
    sim.agents["Isa"].ask_to_replan(f"Isa talked with Bob: {reason}")


@pytest.mark.parametrize(("reason", "needed", "asked"), [
    ("Isa and Bob talked at Cafe for a while: Bob likes the coffee.", None, False),
    ("Isa and Bob talked at Cafe: Bob invited Isa to lunch at 1 pm tomorrow.", "no", False),
    ("Isa and Bob talked at Cafe: Bob invited Isa to a walk at 10 am.", "yes", True),
])
def test_a_conversation_revises_the_plan_only_if_it_may_change_it(reason, needed, asked, tmp_path):
    events, backend = run(tmp_path, {"revise_needed": needed} if needed else {},
                          text=CAFE_TOWN.split("interventions:")[0], during=lambda sim: chat(sim, reason))
    questions = [r for r in backend.requests if r.purpose == "revise_needed"]
    revisions = [r for r in backend.requests if r.purpose == "revise_schedule"]
    assert len(questions) == (needed is not None) and bool(revisions) == asked
    if questions:
        assert reason in questions[0].prompt and "serving coffee" in questions[0].prompt
    assert not plans(events, "revision")  # the plain answer after a conversation changes nothing


@pytest.mark.parametrize(("thought", "activity"), [
    ("Bob thought: I should ask Ann about the party.", "asking Ann about the party"),
    ("I need to stop by the market to buy milk!", "stopping by the market to buy milk"),
    ("Maybe I will make dinner for my sister", "making dinner for their sister"),
    ("I feel tired today.", None),
])
def test_a_thought_becomes_an_activity_in_the_plain_revision(thought, activity):
    assert intention(thought, "Bob") == activity


def test_daily_requirements_are_in_every_planning_prompt(tmp_path):
    _, backend = run(tmp_path, hours=3)
    for purpose in ("day_plan", "schedule", "revise_schedule"):
        prompts = [r.prompt for r in backend.requests if r.purpose == purpose]
        assert prompts and all("buy decorations for the party" in p for p in prompts), purpose
    assert re.search(r"Every day Isa needs to: buy decorations for the party", prompts[0])
