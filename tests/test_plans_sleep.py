"""Sleep habits: wake-up and bedtime follow the persona (a night guard's day crosses midnight), never a stray line."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from agentville.agents.planning import habits
from agentville.agents.planning.schedule import Block, parse_schedule, schedule_blocks
from agentville.sim.runtime.runner import assemble
from agentville.sim.scenario import load_scenario
from agentville.sim.store.eventstore import EventStore
from tests.scripted import ScriptedBackend

H = 3600

NIGHT_TOWN = textwrap.dedent("""\
    name: Night town
    start: 2023-02-13T07:00
    seed: 5
    places:
      - name: Shop
        xy: [0, 0]
        areas:
          - name: floor
            objects: [counter, back door]
      - name: Cafe
        xy: [5, 0]
        areas:
          - name: hall
            objects: [table]
      - name: Flat
        xy: [10, 0]
        areas:
          - name: bedroom
            objects: [bed]
          - name: kitchen
            objects: [stove]
      - name: Park
        xy: [5, 5]
        areas:
          - name: lawn
    paths:
      - {between: [Shop, Cafe], minutes: 4}
      - {between: [Cafe, Flat], minutes: 5}
      - {between: [Flat, Park], minutes: 3}
    personas:
      - name: Nate
        age: 45
        traits: calm, watchful
        learned: Nate is the night guard of the shop.
        lifestyle: he works nights; he goes to bed around 8 am and wakes up around 3 pm
        home: "Flat: bedroom"
        daily_requirements: [guard the shop all night]
        routine:  # written from midnight on, as a scenario file wants it
          - {at: "07:30", activity: going home, place: "home"}
          - {at: "08:00", activity: sleeping, place: "Flat: bedroom: bed"}
          - {at: "15:00", activity: waking up and making coffee, place: "Flat: kitchen: stove"}
          - {at: "16:00", activity: having breakfast at the cafe, place: "Cafe: hall: table"}
          - {at: "18:00", activity: walking in the park, place: "Park: lawn"}
          - {at: "20:00", activity: cooking dinner, place: "Flat: kitchen: stove"}
          - {at: "23:00", activity: guarding the shop on the night shift, place: "Shop: floor: counter"}
    interventions:
      - at: 2023-02-14T02:00
        agent: Nate
        text: I should check the back door of the shop.
    """)


def run(text: str, tmp_path, hours: float, answers=None, name: str = "run.db"):
    (tmp_path / "town.yaml").write_text(text)
    scenario = load_scenario(tmp_path / "town.yaml")
    backend = ScriptedBackend({"reaction": "carry on", **(answers or {})})
    with EventStore(tmp_path / name) as store:
        sim = assemble(scenario, store=store, backend=backend)
        summary = sim.run(scenario.start + dt.timedelta(hours=hours))
        return store.events(summary.run_id), backend


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def doing_at(events, name: str, moment: str) -> dict:
    """The last action ``name`` started at or before ``moment`` (ISO time), with its sim time."""
    start = _at("2023-02-13T07:00")
    seconds = (_at(moment) - start).total_seconds()
    mine = events[(events.kind == "action") & (events.agent == name) & (events.sim_time <= seconds)]
    return mine.data.iloc[-1]


def test_a_night_guard_lives_his_routine_over_two_days(tmp_path):
    events, _ = run(NIGHT_TOWN, tmp_path, hours=48)
    days = [e for e in events[events.kind == "plan"].data if e["level"] == "day"]
    assert [d["date"] for d in days] == ["2023-02-13", "2023-02-14"]
    for day in days:  # up in the afternoon, to bed in the morning after
        wake, bedtime = _at(day["wake"]), _at(day["bedtime"])
        assert 14 <= wake.hour <= 16 and wake.date().isoformat() == day["date"], day
        assert bedtime.date() == wake.date() + dt.timedelta(days=1) and bedtime.strftime("%H:%M") == "08:00", day
        assert any("night shift" in row["activity"] for row in day["schedule"]), day
    # at his routine's places at its times, both days
    for date, following in (("2023-02-13", "2023-02-14"), ("2023-02-14", "2023-02-15")):
        assert doing_at(events, "Nate", f"{date}T16:30")["location"].startswith("Cafe"), date
        assert doing_at(events, "Nate", f"{date}T20:30")["location"].startswith("Flat: kitchen"), date
        assert doing_at(events, "Nate", f"{date}T23:30")["location"].startswith("Shop"), date
        assert doing_at(events, "Nate", f"{following}T05:00")["location"].startswith("Shop"), date
    assert doing_at(events, "Nate", "2023-02-14T12:00")["activity"] == "sleeping"
    assert doing_at(events, "Nate", "2023-02-13T12:00")["activity"] == "sleeping"
    # the 02:00 whisper reaches him awake, at work, and changes his plan there and then
    revisions = events[(events.kind == "plan") & events.data.map(lambda d: d.get("level") == "revision")]
    assert len(revisions) == 1
    revision = revisions.iloc[0]
    assert 19 * H <= revision.sim_time <= 19 * H + 20 * 60  # 02:00 to 02:20 on the 14th
    assert "back door" in revision.data["reason"]
    assert revision.data["schedule"][0]["activity"] == "checking the back door of the shop"
    assert any("night shift" in row["activity"] for row in revision.data["schedule"])
    assert revision.data["bedtime"] == "2023-02-14T08:00"
    checking = events[(events.kind == "action") & events.data.map(lambda d: "back door" in d.get("activity", ""))]
    assert len(checking) and (checking.sim_time < 19.75 * H).all()


def test_a_night_guard_started_in_the_night_is_at_work(tmp_path):
    text = NIGHT_TOWN.replace("start: 2023-02-13T07:00", "start: 2023-02-13T02:00")
    events, _ = run(text, tmp_path, hours=4)
    first = [e for e in events[events.kind == "plan"].data if e["level"] == "day"][0]
    assert first["date"] == "2023-02-12" and first["wake"] == "2023-02-13T02:00"  # the day he woke up to yesterday
    assert first["bedtime"] == "2023-02-13T08:00"
    assert events[(events.kind == "action")].data.iloc[0]["location"].startswith("Shop")


KLAUS = NIGHT_TOWN.split("personas:")[0] + textwrap.dedent("""\
    personas:
      - name: Klaus
        age: 20
        traits: earnest
        lifestyle: he goes to bed around 11 pm and wakes up around 7 am
        home: "Flat: bedroom"
    """)


def test_a_sleeping_line_at_13_is_not_bedtime_for_an_11_pm_sleeper(tmp_path):
    schedule = "09:00 reading at the cafe\n10:00 walking in the park\n12:00 eating lunch\n13:00 sleeping\n\n"
    events, _ = run(KLAUS, tmp_path, hours=12, answers={"schedule": schedule})
    day = [e for e in events[events.kind == "plan"].data if e["level"] == "day"][0]
    assert day["bedtime"].endswith("T23:00")
    assert all(row["activity"] != "sleeping" for row in day["schedule"])
    afternoon = doing_at(events, "Klaus", "2023-02-13T15:00")
    assert afternoon["activity"] != "sleeping"


def test_a_short_sleep_between_activities_is_a_nap_and_a_late_bedtime_is_clamped():
    entries = parse_schedule("07:00 getting up\n13:00 sleeping\n14:00 work\n22:00 reading\n04:00 sleeping", 0,
                             after=7 * H)
    blocks, bedtime = schedule_blocks(entries, 23 * H, habit=23 * H)
    assert blocks == [Block(7 * H, 13 * H, "getting up"), Block(13 * H, 14 * H, "taking a nap"),
                      Block(14 * H, 22 * H, "work"), Block(22 * H, 23 * H, "reading")]
    assert bedtime == 23 * H  # 04:00 is far past the usual 23:00: bed at the usual time
    blocks, bedtime = schedule_blocks(entries, 23 * H)  # without a habit, the first sleeping line is bedtime
    assert bedtime == 13 * H


@pytest.mark.parametrize(("lifestyle", "bed"), [
    ("she goes to bed around 8 pm and wakes up around 6 am", "20:00"),
    ("he goes to bed around 2 am and wakes up around 10 am", "02:00"),
])
def test_a_fallback_day_goes_to_bed_when_the_lifestyle_says(lifestyle, bed, tmp_path):
    text = KLAUS.replace("he goes to bed around 11 pm and wakes up around 7 am", lifestyle)
    events, _ = run(text, tmp_path, hours=30)
    days = [e for e in events[events.kind == "plan"].data if e["level"] == "day"]
    assert days and all(d["bedtime"][11:] == bed for d in days), days
    sleeping = events[(events.kind == "action") & events.data.map(lambda d: d.get("activity") == "sleeping")]
    assert any(dt.datetime(2023, 2, 13, 7) + dt.timedelta(seconds=t) >= _at(days[0]["bedtime"])
               for t in sleeping.sim_time)


@pytest.mark.parametrize(("routine", "lifestyle", "wake", "bed"), [
    ([], "", 7 * 60, 23 * 60),
    ([], "she goes to bed around 11:30 pm and wakes up around 7:30 am", 7 * 60 + 30, 23 * 60 + 30),
    ([], "goes to bed around 1 am, wakes up around 9", 9 * 60, 25 * 60),
    ([], "he goes to bed around 10 and gets up at 6", 6 * 60, 22 * 60),
    ([], "he sleeps from 8 am to 3 pm", 15 * 60, 32 * 60),
    ([("15:00", "waking up"), ("23:00", "night shift"), ("08:00", "sleeping")], "", 15 * 60, 32 * 60),
    ([("07:00", "waking up"), ("14:00", "sleeping"), ("15:00", "work"), ("22:00", "sleeping")], "", 7 * 60, 22 * 60),
    ([("08:00", "work"), ("12:00", "lunch"), ("18:00", "dinner")], "", 8 * 60, 23 * 60),
])
def test_wake_up_and_bedtime_habits_come_from_the_routine_or_the_lifestyle(routine, lifestyle, wake, bed):
    from agentville.sim.scenario.schema import RoutineStep

    steps = [RoutineStep(at=at, activity=activity, place="home") for at, activity in routine]
    assert habits.wake_minute(steps, lifestyle) == wake
    assert habits.bedtime_minute(steps, lifestyle) == bed
