"""The rubric's later measures (issue 27, item 2): meals at meal times, distinctiveness, plan adherence and the
rubric over time, on hand-built logs with answers worked out by hand, and on a fake-backend run."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from pathlib import Path

import pandas as pd
import pytest

from agentville.sim.analysis.likeness import MAX_PAIRS, _pair, distinctiveness, pairs
from agentville.sim.analysis.rubric import AGENT_COLUMNS, Rubric, rubric, run_rubric
from agentville.sim.analysis.rubric_time import OVER_TIME_COLUMNS, rubric_over_time
from agentville.sim.core import events as ev
from agentville.sim.core.activities import MEAL, is_meal, meal_of
from agentville.sim.runtime.runner import open_run
from agentville.sim.scenario import load_scenario
from agentville.sim.store.eventstore import EventStore

from .test_rubric import HOME, ISA, KLAUS, MARIA, START, VILLE, H, Log, a_day, measure, of

CAFE = "Hobbs Cafe: cafe: cafe counter"


def doing(log: Log, agent: str, *steps: tuple[float, str]) -> Log:
    """Actions of ``agent`` where it is: (hours after midnight, activity)."""
    for hours, activity in steps:
        log.add(hours * H, ev.ACTION, agent, activity=activity, location=HOME[agent], description=activity)
    return log


def planned(log: Log, agent: str, hours: float, *blocks: tuple[str, str, str], level: str = "day") -> Log:
    """A plan of ``agent`` logged at ``hours``: blocks (start, end, activity); a day plan carries its date."""
    schedule = [{"start": s, "end": e, "activity": a} for s, e, a in blocks]
    dated = {"date": START.date().isoformat()} if level == "day" else {}
    return log.add(hours * H, ev.PLAN, agent, level=level, schedule=schedule, **dated)


def residents_placed(*agents: str, asleep: bool = True) -> Log:
    log = Log()
    for agent in agents:
        if asleep:
            log.placed_asleep(agent)
        else:
            log.add(0, ev.PLACED, agent, location=HOME[agent])
    return log


@pytest.mark.parametrize("activity, meal", [
    ("having breakfast", "breakfast"), ("getting started: eating lunch in the kitchen", "lunch"),
    ("cooking dinner", "dinner"), ("Having supper with Maria", "dinner"), ("eating a sandwich", MEAL),
    ("having a meal", MEAL), ("grabbing a snack", MEAL), ("brunch at the cafe", MEAL), ("ate quickly", MEAL),
    ("reading a book", None), ("serving lunch to customers", None), ("shopping for dinner", None),
    ("buying groceries for breakfast", None), ("treating a patient", None), ("repeating the lecture", None),
    ("sleeping", None), ("the dinner party", "dinner"),
])
def test_what_an_activity_says_about_eating(activity, meal):
    assert meal_of(activity) == meal and is_meal(activity) == (meal is not None)


def meals_day() -> Log:
    """Isabella: breakfast 07:30 (in steps), lunch 12:30, dinner at 16:00 (too early); Maria: a snack at 03:00
    (no window), then at 19:00 eating, a chat, dinner (one meal); Klaus never eats."""
    log = residents_placed(ISA, MARIA, KLAUS)
    doing(log, ISA, (7.5, "getting started: having breakfast"), (7.6, "having breakfast"),
          (7.8, "wrapping up: having breakfast"), (8, "serving coffee"), (12.5, "eating lunch"),
          (13, "serving lunch to customers"), (16, "having dinner"), (17, "reading"))
    doing(log, MARIA, (3, "eating a snack"), (3.5, "sleeping"), (8, "studying"), (19, "eating"),
          (19.3, "chatting with Klaus Mueller"), (19.6, "having dinner"), (20.5, "playing guitar"))
    return doing(log, KLAUS, (8, "reading a book"))


def test_meals_in_and_out_of_their_windows(tmp_path):
    result = meals_day().rubric(tmp_path)
    assert of(result, ISA, "meals_on_time") == pytest.approx(2 / 3)  # the 16:00 dinner is early
    assert of(result, MARIA, "meals_on_time") == pytest.approx(1 / 2)  # 03:00 is no meal's time; 19:00 dinner is
    assert math.isnan(of(result, KLAUS, "meals_on_time")) and of(result, KLAUS, "meals_per_day") == 0.0
    assert [of(result, a, "meals_per_day") for a in (ISA, MARIA)] == [3.0, 2.0]  # one day each
    assert measure(result, "meals on time") == pytest.approx(3 / 5)  # of all meals, not a mean of residents
    assert measure(result, "meals per day") == pytest.approx(5 / 3)


def test_a_partial_day_counts_in_part_and_no_meals_is_nan(tmp_path):
    half = doing(residents_placed(ISA), ISA, (8, "having breakfast")).rubric(tmp_path / "a", until=12 * H)
    assert measure(half, "meals per day") == pytest.approx(2.0) and measure(half, "meals on time") == 1.0
    none = a_day().rubric(tmp_path / "b")
    assert math.isnan(measure(none, "meals on time")) and measure(none, "meals per day") == 0.0


def test_identical_days_are_not_distinct_and_different_ones_are(tmp_path):
    same = residents_placed(ISA, MARIA, KLAUS)
    for agent in (ISA, MARIA, KLAUS):
        doing(same, agent, (8, "reading a novel"), (12, "cooking pasta"))
    assert measure(same.rubric(tmp_path / "a"), "distinctiveness") == 0.0
    apart = residents_placed(ISA, MARIA, KLAUS, asleep=False)  # nobody sleeps: no word in common
    doing(apart, ISA, (8, "painting portraits")).add(8 * H, ev.ACTION, MARIA, activity="studying physics",
                                                     location=HOME[MARIA], description="")
    doing(apart, KLAUS, (8, "writing an essay"))
    assert measure(apart.rubric(tmp_path / "b"), "distinctiveness") == 1.0


def test_names_of_people_and_places_do_not_make_days_different(tmp_path):
    log = residents_placed(ISA, MARIA, asleep=False)
    doing(log, ISA, (8, "working at Hobbs Cafe"), (14, "talking with Maria Lopez"))
    doing(log, MARIA, (8, "working at Oak Hill College"), (14, "talking with Isabella"))
    assert measure(log.rubric(tmp_path / "a"), "distinctiveness") == 0.0
    part = residents_placed(ISA, MARIA, KLAUS, asleep=False)  # Klaus does nothing: left out, not counted as apart
    doing(part, ISA, (8, "reading a novel"))
    doing(part, MARIA, (8, "reading about physics"))
    assert measure(part.rubric(tmp_path / "b"), "distinctiveness") == pytest.approx(2 / 3)  # 1 - 1/3
    alone = doing(residents_placed(ISA, MARIA, asleep=False), ISA, (8, "reading"))
    assert math.isnan(measure(alone.rubric(tmp_path / "c"), "distinctiveness"))


@pytest.mark.parametrize("count", [2, 3, 7, 20, 21])
def test_all_pairs_in_a_small_town_a_seeded_sample_in_a_large_one(count):
    everyone = list(itertools.combinations(range(count), 2))
    assert [_pair(k, count) for k in range(len(everyone))] == everyone
    chosen = pairs(count, seed=5)
    if len(everyone) <= MAX_PAIRS:
        assert chosen == everyone
    else:
        assert len(set(chosen)) == MAX_PAIRS and set(chosen) <= set(everyone)
        assert chosen == pairs(count, seed=5) and chosen != pairs(count, seed=6)


def test_a_large_town_is_sampled_and_still_reads_right():
    town = 300  # 44,850 pairs: 200 of them are compared
    assert distinctiveness({f"r{i}": frozenset({"reading", "cooking"}) for i in range(town)}, seed=1) == 0.0
    assert distinctiveness({f"r{i}": frozenset({f"hobby{i}"}) for i in range(town)}, seed=1) == 1.0
    halves = {f"r{i}": frozenset({"reading"} if i % 2 else {"cooking"}) for i in range(town)}
    assert 0.3 < distinctiveness(halves, seed=1) < 0.7 and distinctiveness(halves, 1) == distinctiveness(halves, 1)


def plan_day() -> Log:
    """Everyone plans 07:00-09:00 work at the cafe, 09:00-12:00 painting; Isabella follows, Maria reads
    throughout, Klaus works, then reads."""
    log = residents_placed(ISA, MARIA, KLAUS)
    for agent in (ISA, MARIA, KLAUS):
        planned(log, agent, 7, ("07:00", "09:00", "working at the cafe"), ("09:00", "12:00", "painting in the studio"))
    doing(log, ISA, (7, "getting started: working behind the counter"), (9, "painting a landscape"))
    doing(log, MARIA, (7, "reading a book"))
    return doing(log, KLAUS, (7, "work on the espresso machine"), (9, "reading a book"))


def test_following_the_plan_or_doing_something_else(tmp_path):
    result = plan_day().rubric(tmp_path, until=12 * H)
    assert of(result, ISA, "plan_adherence") == 1.0 and of(result, MARIA, "plan_adherence") == 0.0
    assert of(result, KLAUS, "plan_adherence") == pytest.approx(24 / 60)  # 07:00-09:00 of 07:00-12:00
    assert measure(result, "plan adherence") == pytest.approx((60 + 0 + 24) / 180)
    later = plan_day().rubric(tmp_path / "later", until=20 * H)  # after the plan's last block: not counted
    assert of(later, KLAUS, "plan_adherence") == pytest.approx(24 / 60)


def test_a_revision_replaces_the_rest_of_the_day(tmp_path):
    def day(revised: bool) -> Rubric:
        log = residents_placed(ISA, MARIA)
        for agent in (ISA, MARIA):
            planned(log, agent, 7, ("07:00", "12:00", "painting in the studio"))
        if revised:
            planned(log, ISA, 9, ("09:00", "12:00", "shopping for groceries"), level="revision")
        doing(log, ISA, (7, "painting"), (9, "shopping at the market"))
        doing(log, MARIA, (7, "painting a portrait"))
        return log.rubric(tmp_path / str(revised), until=12 * H)

    assert of(day(True), ISA, "plan_adherence") == 1.0 and of(day(False), ISA, "plan_adherence") == 0.4
    assert of(day(True), MARIA, "plan_adherence") == 1.0  # another's revision is not hers


def test_a_sleep_block_across_midnight_is_kept_by_sleeping(tmp_path):
    log = residents_placed(ISA, MARIA)
    for agent in (ISA, MARIA):
        planned(log, agent, 7, ("07:00", "22:00", "working at the cafe"), ("22:00", "06:00", "sleeping"))
        doing(log, agent, (7, "working"))
    doing(log, ISA, (22, "going to bed"))
    doing(log, MARIA, (22, "reading in bed late"))  # "in bed" reads as sleep: asleep, so it keeps to the block
    doing(log, MARIA, (23, "watching a film"))
    result = log.rubric(tmp_path, until=26 * H)  # to 02:00: the sleep block is in force after midnight too
    assert of(result, ISA, "plan_adherence") == 1.0
    assert of(result, MARIA, "plan_adherence") == pytest.approx((19 * 12 - 3 * 12) / (19 * 12))


def test_a_block_naming_a_place_is_kept_only_there(tmp_path):
    log = residents_placed(ISA, MARIA)
    for agent in (ISA, MARIA):
        planned(log, agent, 7, ("07:00", "12:00", "working at Hobbs Cafe"))
    doing(log, ISA, (7, "working on a laptop"))  # at home
    log.walk(7 * H, MARIA, CAFE, "working at the counter")  # walking 07:00-07:05 counts as on the way
    log.add(7 * H, ev.ACTION, MARIA, activity="working", location=CAFE, description="leaving for work")
    result = log.rubric(tmp_path, until=12 * H)
    assert of(result, ISA, "plan_adherence") == 0.0 and of(result, MARIA, "plan_adherence") == 1.0


@pytest.mark.parametrize("block, activity, kept", [
    ("working at Hobbs Cafe", "working on a laptop", 0.0),  # says where, and she is at home
    ("working at the Hobbs Cafe's counter", "working on a laptop", 0.0),
    ("working in Johnson Park", "working on a laptop", 0.0),
    ("working for Hobbs Cafe", "working on a laptop", 1.0),  # names the cafe, not as where
    ("working at home", "working on a laptop", 1.0),  # no place of the town
    ("having lunch at the cafeteria", "getting started: having lunch", 1.0),  # a cafeteria is not "the cafe"
    ("going about the day", "wrapping up: going about the day", 1.0),  # no telling word: word for word
    ("going about the day", "going about town", 0.0),
    ("reading the paper", "cooking", 0.0), ("reading the paper", "sleeping", 0.0),
])
def test_what_a_block_asks_of_an_agent_at_home(tmp_path, block, activity, kept):
    log = planned(residents_placed(ISA), ISA, 7, ("07:00", "12:00", block))
    result = doing(log, ISA, (7, activity)).rubric(tmp_path, until=12 * H)
    assert of(result, ISA, "plan_adherence") == kept


def test_no_plans_no_adherence(tmp_path):
    result = a_day().rubric(tmp_path)
    assert math.isnan(measure(result, "plan adherence"))
    assert result.agents["plan_adherence"].isna().all() and "plan_adherence" in AGENT_COLUMNS


def stored_events(folder: Path) -> pd.DataFrame:
    with EventStore(folder / "hand.db", read_only=True) as store:
        return store.events(store.run(None)["run_id"])


def test_the_same_log_gives_the_same_tables_twice(tmp_path):
    log = meals_day()
    planned(log, ISA, 7, ("07:00", "12:00", "having breakfast and serving coffee"))
    log.rubric(tmp_path)
    events, scenario = stored_events(tmp_path), load_scenario(VILLE)
    first, second = rubric(events, scenario), rubric(events.sample(frac=1, random_state=2), scenario)
    pd.testing.assert_frame_equal(first.measures, second.measures)
    pd.testing.assert_frame_equal(first.agents, second.agents)
    pd.testing.assert_frame_equal(rubric_over_time(events, scenario), rubric_over_time(events, scenario))


def test_the_rubric_over_time_is_cumulative_and_ends_with_the_whole_log(tmp_path):
    a_day().rubric(tmp_path, until=24 * H)
    events, scenario = stored_events(tmp_path), load_scenario(VILLE)
    assert sorted(set(rubric_over_time(events, scenario)["until"])) == [
        START + dt.timedelta(hours=h) for h in range(3, 25, 3)]  # a day: eight steps
    table = rubric_over_time(events, scenario, every_s=5 * H)
    assert list(table.columns) == OVER_TIME_COLUMNS
    cuts = [START + dt.timedelta(hours=h) for h in (5, 10, 15, 20, 24)]  # the last: the end of the log
    assert sorted(set(table["until"])) == cuts
    whole = rubric(events, scenario).measures
    assert list(table.loc[table["until"] == cuts[-1], "measure"]) == list(whole["measure"])
    assert table.loc[table["until"] == cuts[-1], "value"].tolist() == pytest.approx(whole["value"].tolist(),
                                                                                     nan_ok=True)
    places = table[table["measure"] == "places per day"].set_index("until")["value"]
    assert places[cuts[0]] == 1.0 and places[cuts[-1]] == 2.0  # all at home until 07:00
    asleep = table[table["measure"] == "asleep at night"].set_index("until")["value"]
    assert asleep[cuts[0]] == 1.0 and asleep.notna().all()  # the night so far, from the first step on
    assert rubric_over_time(events.iloc[:0], scenario).empty
    with pytest.raises(ValueError):
        rubric_over_time(events, scenario, every_s=0)


@pytest.fixture(scope="module")
def fake_ville(tmp_path_factory) -> Rubric:
    folder = tmp_path_factory.mktemp("ville")
    with open_run(VILLE, db=folder / "run.db", seed=3, llm="fake") as sim:
        sim.run(sim.scenario.start + dt.timedelta(hours=14))
    with EventStore(folder / "run.db", read_only=True) as store:
        return run_rubric(store)


def test_the_new_measures_are_sensible_on_a_fake_day(fake_ville):
    for name in ("meals on time", "plan adherence", "distinctiveness"):
        assert 0.0 <= measure(fake_ville, name) <= 1.0, name
    assert measure(fake_ville, "plan adherence") > 0.5  # the fake backend's agents do what they planned
    assert 0.0 < measure(fake_ville, "meals per day") < 6.0
    assert measure(fake_ville, "distinctiveness") > 0.5  # a barista, a student, a researcher
    columns = fake_ville.agents[["meals_on_time", "plan_adherence"]]
    assert ((columns >= 0) & (columns <= 1)).all().all()
