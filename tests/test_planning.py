"""Planning: parsers that turn model text into plans, and decomposition durations that add up."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from agentville.agents.llm.asking import Unparseable
from agentville.agents.planning.schedule import (
    STEP_MINUTES,
    Block,
    fit_durations,
    parse_schedule,
    parse_steps,
    parse_strokes,
    schedule_blocks,
    timed_items,
)
from agentville.sim.generation import FakeBackend
from agentville.sim.runtime.runner import assemble
from agentville.sim.store.eventstore import EventStore

H = 3600


def test_day_plan_strokes_parse_numbered_items_and_stop_at_the_end_of_the_list():
    text = "1. wake up at 6 am\n2) open the cafe at 7\n- serve coffee\n4. close at 6 pm.\n\nNotes: blah"
    assert parse_strokes(text) == ["wake up at 6 am", "open the cafe at 7", "serve coffee", "close at 6 pm"]
    with pytest.raises(Unparseable):
        parse_strokes("1. wake up\n2.")


def test_timed_items_accept_the_three_shapes_small_models_write():
    text = ("07:00 waking up\n7:30 am - showering\nopening the shop at 8:15 am; lunch at 12:30 pm\n"
            "3. reading at 9 pm\nno time here")
    assert timed_items(text) == [(420, "waking up"), (450, "showering"), (495, "opening the shop"),
                                 (750, "lunch"), (21 * 60, "reading")]


def test_schedule_rolls_over_midnight_and_drops_what_is_out_of_order_or_too_early():
    entries = parse_schedule("06:00 too early\n08:00 baking\n09:00 selling\n08:30 out of order\n10:00 12:30\n"
                             "22:00 reading\n01:00 sleeping", midnight=0, after=8 * H)
    assert entries == [(8 * H, "baking"), (9 * H, "selling"), (22 * H, "reading"), (25 * H, "sleeping")]
    with pytest.raises(Unparseable):
        parse_schedule("08:00 only one line", midnight=0, after=8 * H)


def test_schedule_blocks_end_at_bedtime():
    blocks, bedtime = schedule_blocks([(8 * H, "a"), (12 * H, "b"), (23 * H, "sleeping"), (24 * H, "x")],
                                      bedtime_default=22 * H)
    assert blocks == [Block(8 * H, 12 * H, "a"), Block(12 * H, 23 * H, "b")] and bedtime == 23 * H
    blocks, bedtime = schedule_blocks([(8 * H, "a"), (20 * H, "b")], bedtime_default=23 * H)
    assert blocks[-1] == Block(20 * H, 23 * H, "b") and bedtime == 23 * H


def test_steps_parse_durations_and_default_missing_ones():
    assert parse_steps("- grinding beans (5 minutes)\n- (10 minutes)\n- pouring [12 min]\n- chatting\n\n- after (5)") == [
        ("grinding beans", 5), ("pouring", 12), ("chatting", 10)]
    with pytest.raises(Unparseable):
        parse_steps("\n\n")


def test_fitted_durations_always_add_up_and_stay_within_5_to_15_minutes():
    low, high = STEP_MINUTES
    rng = random.Random(4)
    for _ in range(3000):
        steps = [(f"s{i}", rng.choice([0, 1, 3, 5, 7, 10, 15, 30, 60, 90])) for i in range(rng.randint(0, 9))]
        total = rng.randint(1, 180)
        fitted = fit_durations(steps, total, "filler")
        assert sum(m for _, m in fitted) == total, (steps, total, fitted)
        if total >= low:
            assert all(low <= m <= high for _, m in fitted), (steps, total, fitted)
        else:
            assert len(fitted) == 1


def test_decomposed_steps_fill_each_chunk_exactly_in_a_run(tiny, tmp_path):
    with EventStore(tmp_path / "run.db") as store:
        sim = assemble(tiny, store=store, backend=FakeBackend())
        summary = sim.run(tiny.start + dt.timedelta(hours=12))
        events = store.events(summary.run_id)
    steps = [e for e in events[events.kind == "plan"].data if e["level"] == "steps"]
    assert steps
    for plan in steps:
        minutes = [s["minutes"] for s in plan["steps"]]
        assert sum(minutes) == plan["minutes"] and all(5 <= m <= 15 for m in minutes)
    days = [e for e in events[events.kind == "plan"].data if e["level"] == "day"]
    assert {d["date"] for d in days} == {"2023-02-13"} and len(days) == 2  # Ann and Bob
    for day in days:
        assert 3 <= len(day["strokes"]) <= 8 and day["schedule"]


_ONE_LINE = (r'      - \{at: "07:30".*\n|      - \{at: "22:00".*\n', "")  # Bob: only reading at 09:00
_NIGHT_OWL = (r'      - \{at: "07:30"', '      - {at: "01:00", activity: sleeping, place: "Home: bedroom: bed"}\n'
              r'\g<0>', r'      - \{at: "22:00".*\n', "")  # Bob goes to bed at 1 am


BOTH = ("Ann", "Bob")


@pytest.mark.parametrize(("start", "variant", "asleep_first"), [
    ("00:00", (), BOTH), ("03:00", (), BOTH), ("20:59", (), ("Ann",)), ("21:59", (), BOTH), ("22:59", (), BOTH),
    ("23:00", (), BOTH), ("23:59", (), BOTH), ("12:00", _ONE_LINE, ()), ("22:59", _ONE_LINE, BOTH),
    ("23:30", _NIGHT_OWL, ("Ann",)),
])
def test_a_day_starting_late_or_in_the_night_is_planned_and_slept_sensibly(start, variant, asleep_first, tmp_path):
    """Regression: a start late in the day planned the night as the day and crashed revising it after midnight.

    ``asleep_first``: the agents whose day is over (or not begun) at the start: they sleep, then plan a morning.
    """
    import re

    from agentville.sim.scenario import load_scenario

    from .conftest import TINY

    text = TINY.replace("start: 2023-02-13T07:00", f"start: 2023-02-13T{start}")
    text = text.replace("at: 2023-02-13T09:30", "at: 2023-02-14T09:30")
    for pattern, replacement in zip(variant[::2], variant[1::2], strict=True):
        text = re.sub(pattern, replacement, text)
    (tmp_path / "tiny.yaml").write_text(text)
    scenario = load_scenario(tmp_path / "tiny.yaml")
    with EventStore(tmp_path / "run.db") as store:
        sim = assemble(scenario, store=store, backend=FakeBackend())
        summary = sim.run(scenario.start + dt.timedelta(days=1))
        events = store.events(summary.run_id)
    assert summary.status == "finished"
    plans = [e for e in events[events.kind == "plan"].itertuples() if e.data["level"] == "day"]
    for name in ("Ann", "Bob"):
        days = [e.data for e in plans if e.agent == name]
        assert days, f"{name} never planned a day"
        for day in days:
            wake, bedtime = dt.datetime.fromisoformat(day["wake"]), dt.datetime.fromisoformat(day["bedtime"])
            assert wake.date().isoformat() == day["date"] and day["schedule"]
            assert wake < bedtime <= wake.replace(hour=0, minute=0) + dt.timedelta(hours=26), day  # one day at most
            if wake > scenario.start:  # woken from sleep: in the morning, not in the night or the afternoon
                assert 4 <= wake.hour <= 11, day
            for row in day["schedule"]:  # not hours on end of waking up
                length = (dt.datetime.strptime(row["end"], "%H:%M") - dt.datetime.strptime(row["start"], "%H:%M"))
                assert row["activity"] != "waking up" or length.seconds <= 2 * 3600, day
        slept = events[(events.kind == "action") & (events.agent == name)].data
        assert any(a["activity"] == "sleeping" for a in slept), f"{name} never slept"
        assert (days[0]["wake"] > f"2023-02-13T{start}") == (name in asleep_first), days[0]
