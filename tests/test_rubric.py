"""The rubric computed from a run's log (issue 27, item 2): hand-built logs with answers worked out by hand,
and fake-backend runs (one with a liar backend) that move each measure the right way."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pytest

from agentville.sim.analysis import repetition
from agentville.sim.analysis.grounding import names_in, ungrounded, vocabulary
from agentville.sim.analysis.rubric import AGENT_COLUMNS, COLUMNS, Rubric, run_rubric
from agentville.sim.core import events as ev
from agentville.sim.generation import FakeBackend
from agentville.sim.generation.requests import Completion, Request
from agentville.sim.runtime.runner import open_run
from agentville.sim.scenario import load_scenario
from agentville.sim.store.eventstore import EventStore

VILLE = Path(__file__).resolve().parent.parent / "worlds" / "the_ville_3.yaml"
START = dt.datetime(2023, 2, 13, 0, 0)  # midnight: a log can cover the night
ISA, MARIA, KLAUS = "Isabella Rodriguez", "Maria Lopez", "Klaus Mueller"
HOME = {ISA: "Isabella Rodriguez's apartment: main room: bed", MARIA: "Dorm for Oak Hill College: Maria Lopez's room: bed",
        KLAUS: "Dorm for Oak Hill College: Klaus Mueller's room: bed"}
H = 3600.0


class Log:
    """A hand-built log of the_ville_3's residents, from midnight."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, str, str | None, dict]] = [
            (0.0, ev.RUN_STARTED, None, {"scenario": "The Ville (3 agents)", "seed": 1, "agents": [ISA, MARIA, KLAUS],
                                         "start": START.isoformat(), "until": None})]

    def add(self, t: float, kind: str, agent: str | None, **data: object) -> Log:
        self.rows.append((t, kind, agent, dict(data)))
        return self

    def placed_asleep(self, agent: str) -> Log:
        return self.add(0, ev.PLACED, agent, location=HOME[agent]).add(0, ev.ACTION, agent, activity="sleeping",
                                                                        location=HOME[agent], description="asleep")

    def walk(self, t: float, agent: str, to: str, activity: str = "working") -> Log:
        self.add(t, ev.MOVE, agent, origin="", target=to, route=[], minutes=5.0)
        return self.add(t + 300, ev.ARRIVED, agent, location=to).add(t + 300, ev.ACTION, agent, activity=activity,
                                                                      location=to, description=activity)

    def talk(self, t: float, conversation: str, a: str, b: str, lines: list[str], reason: str = "turn limit") -> Log:
        self.add(t, ev.CONVERSATION_START, a, conversation=conversation, partner=b, location="Hobbs Cafe: cafe")
        for i, line in enumerate(lines):
            speaker, listener = (a, b) if i % 2 == 0 else (b, a)
            self.add(t + 10 * (i + 1), ev.UTTERANCE, speaker, conversation=conversation, listener=listener,
                     turn=i + 1, text=line)
        return self.add(t + 10 * len(lines) + 5, ev.CONVERSATION_END, a, conversation=conversation, partner=b,
                        lines=len(lines), minutes=1.0, reason=reason, summary="they talked")

    def rubric(self, folder: Path, until: float = 24 * H) -> Rubric:
        self.add(until, ev.RUN_FINISHED, None, events=len(self.rows) + 1)
        with EventStore(folder / "hand.db") as store:
            run_id = store.start_run(scenario="The Ville (3 agents)", seed=1, sim_start=START,
                                     scenario_text=VILLE.read_text())
            writer = store.writer(run_id)
            for seq, (t, kind, agent, data) in enumerate(sorted(self.rows, key=lambda r: r[0]), 1):
                writer.append(seq, t, kind, agent, data)
            writer.flush()
            store.end_run(run_id, ev.FINISHED, sim_reached=until)
        with EventStore(folder / "hand.db", read_only=True) as store:
            return run_rubric(store)


def measure(result: Rubric, name: str) -> float:
    return float(result.measures.set_index("measure").loc[name, "value"])


def of(result: Rubric, agent: str, column: str) -> float:
    return float(result.agents.set_index("agent").loc[agent, column])


def a_day() -> Log:
    """All asleep at home until 07:00; Isabella to the cafe, Maria to the college and the cafe, Klaus stays home."""
    log = Log()
    for agent in (ISA, MARIA, KLAUS):
        log.placed_asleep(agent)
    log.add(7 * H, ev.ACTION, KLAUS, activity="reading in his room", location=HOME[KLAUS], description="reading")
    log.walk(7 * H, ISA, "Hobbs Cafe: cafe: cafe counter", "serving coffee")
    log.walk(8 * H, MARIA, "Oak Hill College: classroom: student desks", "attending a lecture")
    log.walk(13 * H, MARIA, "Hobbs Cafe: cafe: customer seating", "studying")
    log.walk(22 * H, ISA, HOME[ISA], "sleeping")
    log.walk(22 * H, MARIA, HOME[MARIA], "sleeping")
    return log


def test_a_hand_built_day_scores_what_was_worked_out_by_hand(tmp_path):
    result = a_day().rubric(tmp_path)
    assert list(result.measures.columns) == COLUMNS and list(result.agents.columns) == AGENT_COLUMNS
    assert set(result.agents["agent"]) == {ISA, MARIA, KLAUS}
    assert measure(result, "asleep at night") == 1.0  # everyone in bed 01:00-05:00
    # 11:00-14:00: Isabella out all along, Maria out all along (at college, walking, at the cafe), Klaus at home
    assert of(result, ISA, "out_at_midday") == 1.0 and of(result, KLAUS, "out_at_midday") == 0.0
    assert measure(result, "out at midday") == pytest.approx(2 / 3)
    # places: Klaus his dorm only; Isabella apartment and cafe; Maria dorm, college, cafe
    assert [of(result, a, "places_per_day") for a in (KLAUS, ISA, MARIA)] == [1.0, 2.0, 3.0]
    assert measure(result, "places per day") == pytest.approx(2.0)
    assert measure(result, "residents who talked") == 0.0 and math.isnan(measure(result, "lines per conversation"))


def test_an_agent_awake_and_out_at_three_in_the_morning_lowers_time_of_day_realism(tmp_path):
    log = a_day()
    log.walk(2 * H + 1800, KLAUS, "Johnson Park: park: fountain", "jogging")  # out 02:35-07:00, awake
    log.walk(4 * H + 1800, KLAUS, HOME[KLAUS], "reading in his room")  # back home 04:35, still awake
    result = log.rubric(tmp_path)
    # Klaus asleep 01:00-02:30 of 01:00-05:00: 18 of 48 five-minute marks
    assert of(result, KLAUS, "asleep_at_night") == pytest.approx(18 / 48)
    assert of(result, ISA, "asleep_at_night") == 1.0
    assert measure(result, "asleep at night") == pytest.approx((1 + 1 + 18 / 48) / 3)
    assert of(result, KLAUS, "places_per_day") == 2.0


def test_an_agent_kept_home_scores_lowest_location_diversity(tmp_path):
    result = a_day().rubric(tmp_path)
    table = result.agents.set_index("agent")["places_per_day"]
    assert table.idxmin() == KLAUS and table.min() == 1.0


def test_a_parrot_repeating_its_last_line_drives_repetition_up(tmp_path):
    fresh = ["Hello Maria!", "Hi Isabella, how are you?", "Fine, thanks. Coming to the party?", "Yes, gladly."]
    parrot = ["Hello Maria!", "Hi Isabella.", "Hello, Maria", "Hi Isabella!", "hello maria", "Hi, Isabella."]
    healthy = a_day().talk(14 * H, "c1", ISA, MARIA, fresh).rubric(tmp_path / "a")
    looping = a_day().talk(14 * H, "c1", ISA, MARIA, parrot, reason=f"{ISA} ended it").rubric(tmp_path / "b")
    assert measure(healthy, "repeated lines") == 0.0 and measure(healthy, "conversation loops") == 0.0
    assert measure(looping, "repeated lines") == pytest.approx(4 / 6)  # all but each speaker's first line
    assert measure(looping, "conversation loops") == 1.0
    assert measure(looping, "ended by decision") == 1.0 and measure(healthy, "ended by turn limit") == 1.0
    assert measure(healthy, "lines per conversation") == 4.0
    assert measure(healthy, "residents who talked") == pytest.approx(2 / 3)
    assert measure(healthy, "talk network density") == pytest.approx(1 / 3)
    assert of(looping, MARIA, "repeated_lines") == pytest.approx(2 / 3)


def test_repetition_across_conversations_counts_for_the_same_speaker_only():
    flags = repetition.repeated_lines([("A", "c1", "Nice weather today."), ("B", "c2", "Nice weather today!"),
                                       ("A", "c3", "nice weather, today"), ("B", "c2", "Something else")])
    assert flags == [(False, False), (False, False), (True, False), (False, False)]  # B never said it, nor c2
    taken_up = repetition.repeated_activities([
        ("A", "getting started: reading"), ("A", "reading"), ("B", "reading"), ("A", "Reading."), ("A", "cooking"),
        ("A", "wrapping up: cooking"), ("A", "reading a book"), ("A", "cooking"), ("B", "cooking")])
    assert taken_up == [("A", False), ("B", False), ("A", False), ("A", False), ("A", True), ("B", False)]
    assert not repetition.near("see you tomorrow", "see you at the party tomorrow")


def test_an_utterance_naming_nobody_in_the_town_is_ungrounded(tmp_path):
    lines = ["Have you met Zorblax Quux?", "I saw Maria Lopez at Hobbs Cafe.", "Yes, at the Valentine's Day party."]
    result = a_day().talk(14 * H, "c1", ISA, MARIA, lines).rubric(tmp_path)
    assert list(result.ungrounded["name"]) == ["Zorblax Quux"]
    assert result.ungrounded["agent"].iloc[0] == ISA
    assert measure(result, "ungrounded utterances") == pytest.approx(1 / 3)
    assert of(result, ISA, "ungrounded_texts") == pytest.approx(1 / 2)
    assert math.isnan(of(result, KLAUS, "ungrounded_texts"))


@pytest.mark.parametrize("text, names", [
    ("Thanks Maria, see you at Hobbs Cafe.", []), ("Zorblax Quux runs the Gizmo Emporium.", ["Quux", "Gizmo Emporium"]),
    ("I met Zorblax yesterday.", ["Zorblax"]), ("On Monday, Klaus Mueller's paper is due.", []),
    ("Zorblax is here.", []),  # a lone name starting a sentence passes: a lower bound
    ("They talked; Isabella Rodri", []), ("They talked; Isabella Zorb", ["Zorb"]),  # cut off at a length limit
    ("They met Isabella Rodri.", ["Isabella Rodri"]),
])
def test_names_outside_the_town_and_its_scenario(text, names):
    known = vocabulary(load_scenario(VILLE).model_dump(mode="json"), [])
    assert ungrounded(text, known) == names


def test_a_sentence_s_first_word_is_not_a_name():
    assert names_in("Well. Thanks Maria! Hello there") == ["Maria"]


class Liar(FakeBackend):
    """The fake backend, except that every line of dialogue is the same question about someone nobody knows."""

    LINE = "Have you seen Zorblax Quux today?"

    def answer(self, request: Request) -> Completion:
        if request.purpose == "utterance":
            return Completion(self.LINE, len(request.prompt.split()), len(self.LINE.split()))
        return super().answer(request)


@pytest.fixture(scope="module")
def fake_rubrics(tmp_path_factory) -> tuple[Rubric, Rubric, Rubric]:
    """Two fake runs with the same seed, and one whose lines name nobody (a simulated day: about a second each)."""
    folder = tmp_path_factory.mktemp("rubric")
    found = []
    for name, backend in (("a", None), ("b", None),
                          ("liar", Liar())):
        with open_run(VILLE, db=folder / f"{name}.db", seed=3, llm="fake", backend=backend) as sim:
            sim.run(sim.scenario.start + dt.timedelta(hours=24))
        with EventStore(folder / f"{name}.db", read_only=True) as store:
            found.append(run_rubric(store))
    return found[0], found[1], found[2]


def test_two_fake_runs_with_the_same_seed_give_identical_tables(fake_rubrics):
    first, second, _ = fake_rubrics
    pd.testing.assert_frame_equal(first.measures, second.measures)
    pd.testing.assert_frame_equal(first.agents, second.agents)
    pd.testing.assert_frame_equal(first.ungrounded, second.ungrounded)
    assert measure(first, "lines per conversation") > 0 and measure(first, "asleep at night") == 1.0
    assert measure(first, "ungrounded texts") == 0.0 and len(first.ungrounded) == 0


def test_a_liars_made_up_name_no_longer_reaches_a_live_runs_log(fake_rubrics):
    """The dialogue turns away a line already said in its conversation (``not_said_before``) and a line naming
    someone nobody said (``agents.llm.grounded``), so neither a live parrot's repeats nor a live liar's made-up
    name reach the log (the hand-built parrot and liar above cover how the rubric counts them)."""
    fake, _, liar = fake_rubrics
    assert len(liar.ungrounded) == 0
    assert measure(liar, "ungrounded utterances") == measure(fake, "ungrounded utterances") == 0.0
    assert measure(liar, "lines per conversation") > 0
