"""The engine: movement, object states, interventions, determinism and the LLM bridge."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import random
import threading
import time

import pytest

from agentville.agents.llm.timing import DECIDING_S
from agentville.sim.generation import ChoiceRequest, Completion, FakeBackend, GenerationFailed, HashEmbedder
from agentville.sim.runtime.runner import assemble
from agentville.sim.scenario import load_scenario
from agentville.sim.store.eventstore import EventStore
from agentville.sim.world.geography import Location, World

from .conftest import WORLDS
from .scripted import ScriptedBackend

TO_THE_CAFE = {"location_place": "Cafe"}  # every activity happens at the cafe


def run(scenario, tmp_path, *, name="run.db", seed=None, backend=None, hours=24):
    store = EventStore(tmp_path / name)
    sim = assemble(scenario, store=store, seed=seed, backend=backend or FakeBackend())
    summary = sim.run(scenario.start + dt.timedelta(hours=hours))
    return store, summary


def comparable(store, run_id):
    """Event rows without wall-clock fields: what determinism promises."""
    return [(e.seq, e.sim_time, e.kind, e.agent, e.data) for e in store.iter_events(run_id)]


def test_world_travel_uses_shortest_path(tiny):
    world = World(tiny)
    route, minutes = world.route(Location("Cafe", "hall"), Location("Home", "bedroom"))
    assert route == ["Cafe", "Park", "Home"] and minutes == 7  # 4 + 3 beats the direct 10
    assert world.travel_minutes(Location("Home", "bedroom"), Location("Home", "kitchen")) == 1
    assert world.travel_minutes(Location("Home", "bedroom"), Location("Home", "bedroom", "bed")) == 0


def test_moves_take_travel_time_along_the_shortest_path(tiny, tmp_path):
    store, summary = run(tiny, tmp_path, backend=ScriptedBackend(TO_THE_CAFE), hours=14)
    assert summary.status == "finished"
    events = list(store.iter_events(summary.run_id))
    ann_moves = [e for e in events if e.kind == "move" and e.agent == "Ann"]
    assert ann_moves, "Ann never moved"
    for move in ann_moves:
        arrival = next(e for e in events if e.seq > move.seq and e.kind == "arrived" and e.agent == "Ann")
        assert arrival.sim_time - move.sim_time == pytest.approx(move.data["minutes"] * 60)
    # Ann walks to the cafe along Home-Park-Cafe (7 minutes, not the direct 10).
    first = ann_moves[0]
    assert first.data["route"] == ["Home", "Park", "Cafe"] and first.data["minutes"] == 7
    # opening the cafe at 08:00, where she always does (her day began after a moment's decision)
    assert first.sim_time == 3600 + DECIDING_S
    # ... and home to bed at bedtime (20:00 in her usual day)
    assert ann_moves[-1].data["target"] == "Home: bedroom: bed" and ann_moves[-1].sim_time == pytest.approx(13 * 3600, abs=DECIDING_S)


def test_object_states_change_when_used_and_reset_when_left(tiny, tmp_path):
    store, summary = run(tiny, tmp_path, backend=ScriptedBackend(TO_THE_CAFE), hours=16)  # both abed by 22:00
    counter = [e for e in store.iter_events(summary.run_id, kinds=["object_state"])
               if e.data["location"] == "Cafe: hall: counter"]
    states = [e.data["state"] for e in counter]
    assert states[0].startswith("in use by ")
    assert states[-1] == "idle"  # released when the last user goes home


def test_intervention_is_logged_and_heard(tiny, tmp_path):
    store, summary = run(tiny, tmp_path)
    (event,) = store.iter_events(summary.run_id, kinds=["intervention"])
    assert event.agent == "Bob" and event.sim_time == 2.5 * 3600
    later_prompts = [e.data["prompt"] for e in store.iter_events(summary.run_id, kinds=["llm_call"], agent="Bob")
                     if e.sim_time > event.sim_time]
    assert later_prompts and "ask Ann about the party" in later_prompts[0]


def test_same_seed_same_log_different_seed_differs(tiny, tmp_path):
    a, ra = run(tiny, tmp_path, name="a.db", seed=11)
    b, rb = run(tiny, tmp_path, name="b.db", seed=11)
    c, rc = run(tiny, tmp_path, name="c.db", seed=12)
    assert comparable(a, ra.run_id) == comparable(b, rb.run_id)
    assert comparable(a, ra.run_id) != comparable(c, rc.run_id)


class ThreadedBackend:
    """Answers like the fake backend, but from worker threads after random delays.

    Finishing order is chaotic; the engine must not let that leak into the log.
    """

    model_id = "fake"
    traits = dataclasses.replace(FakeBackend.traits, instant=False)  # the fake's answers and embedder, delayed

    def __init__(self, jitter_s: float = 0.01, workers: int = 8):
        self.fake = FakeBackend()
        self.pool = concurrent.futures.ThreadPoolExecutor(workers)
        self.jitter_s = jitter_s
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.rng = random.Random()

    def _answer(self, request, delay):
        time.sleep(delay)
        with self.lock:
            self.in_flight -= 1
        return self.fake.answer(request)

    def submit(self, request):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return self.pool.submit(self._answer, request, self.rng.uniform(self.jitter_s, 3 * self.jitter_s))

    def close(self):
        self.pool.shutdown()


def test_requests_of_all_agents_are_in_flight_together_and_order_is_deterministic(tmp_path):
    # In the three-person village all three agents act at 06:00 without walking anywhere.
    village = load_scenario(WORLDS / "the_ville_3.yaml")
    threaded = ThreadedBackend()
    a, ra = run(village, tmp_path, name="threaded.db", backend=threaded, hours=12)
    b, rb = run(village, tmp_path, name="instant.db", backend=FakeBackend(), hours=12)
    threaded.close()
    assert comparable(a, ra.run_id) == comparable(b, rb.run_id)
    assert threaded.max_in_flight >= 3, "agents' requests were not submitted together"


def test_call_minutes_cost_simulated_time(tiny, tmp_path):
    costly = tiny.model_copy(update={"generation": tiny.generation.model_copy(update={"call_minutes": 2.0}),
                                     "cognition": tiny.cognition.model_copy(update={"importance": "model"})})
    store, summary = run(costly, tmp_path, hours=3)
    events = list(store.iter_events(summary.run_id, kinds=["llm_call", "action"], agent="Ann"))
    first_action = next(i for i, e in enumerate(events) if e.kind == "action")
    calls = events[:first_action]  # Ann's two seed memories rated together, her wake-up chosen, her day planned
    assert [c.data["purpose"] for c in calls][:3] == ["importance", "importance", "wake_up"]
    assert [(c.data["asked"], c.data["due"]) for c in calls[:3]] == [(0, 120.0), (0, 120.0), (120.0, 240.0)]
    assert all(c.sim_time == c.data["due"] for c in calls)  # each answered 2 simulated minutes after asking
    assert events[first_action].sim_time == calls[-1].sim_time >= 240.0
    later = [e for e in events if e.kind == "llm_call"]
    assert all(e.data["due"] - e.data["asked"] >= 120.0 for e in later)  # never sooner than a call costs


def test_choice_requests_return_an_option():
    fake = FakeBackend()
    options = ("yes", "no")
    answers = {fake.submit(ChoiceRequest(prompt=f"q{i}", options=options, seed=i)).result().text for i in range(20)}
    assert answers == set(options)


def test_backend_failure_stops_run_with_clear_error_and_failed_status(tiny, tmp_path):
    class Broken:
        model_id = "broken"

        def submit(self, request):
            future = concurrent.futures.Future()
            future.set_exception(ConnectionError("server went away"))
            return future

        def close(self):
            pass

    stopping = tiny.model_copy(update={"generation": tiny.generation.model_copy(update={"on_failure": "stop"})})
    store = EventStore(tmp_path / "broken.db")
    sim = assemble(stopping, store=store, backend=Broken())
    with pytest.raises(Exception, match="server went away"):
        sim.run(tiny.start + dt.timedelta(hours=2))
    (row,) = store.runs()
    assert row["status"] == "failed" and "server went away" in row["error"]
    assert store.count_events(row["run_id"]) >= 1  # what happened before the fault is kept


def test_backend_failure_uses_logged_fallback_by_default(tiny, tmp_path):
    class Broken:
        model_id = "broken"

        def submit(self, request):
            future = concurrent.futures.Future()
            future.set_exception(GenerationFailed("HTTP 500 after 4 retries", retries=4))
            return future

        def close(self):
            pass

    store = EventStore(tmp_path / "fallback.db")
    sim = assemble(tiny, store=store, backend=Broken(), embedder=HashEmbedder(), cognition={"importance": "model"})
    summary = sim.run(tiny.start + dt.timedelta(hours=3))
    assert summary.status == "finished"
    calls = list(store.iter_events(summary.run_id, kinds=["llm_call"]))
    assert calls and all(c.data["fallback"] for c in calls)
    plan = next(c for c in calls if c.data["purpose"] == "day_plan" and c.agent == "Ann")
    assert plan.data["output"].startswith(" waking up at 07:00\n2. opening the cafe at 08:00")  # the plain plan
    (day,) = [e for e in store.iter_events(summary.run_id, kinds=["plan"], agent="Ann") if e.data["level"] == "day"]
    assert day.data["strokes"][:2] == ["waking up at 07:00", "opening the cafe at 08:00"]
    rating = next(c for c in calls if c.data["purpose"] == "importance")
    assert rating.data["output"] == "3"  # a neutral importance
    assert calls[0].wall["retries"] == 4 and "HTTP 500" in calls[0].wall["error"]


def test_completion_type_is_plain_data():
    completion = Completion("hi", 3, 1)
    assert completion.text == "hi" and not completion.fallback


def test_run_scenario_python_api(tmp_path):
    from agentville.sim import EventStore as Store
    from agentville.sim import run_scenario

    summary = run_scenario(WORLDS / "the_ville_3.yaml", db=tmp_path / "v.db", llm="fake",
                           until=dt.datetime(2023, 2, 13, 12, 0))
    assert summary.status == "finished" and summary.agents == 3
    events = Store(tmp_path / "v.db").events()
    assert set(events.loc[events.kind == "move", "agent"]) == {"Isabella Rodriguez", "Maria Lopez", "Klaus Mueller"}


def test_occupancy_index_follows_moves(tiny, tmp_path):
    store = EventStore(tmp_path / "o.db")
    sim = assemble(tiny, store=store, backend=ScriptedBackend(TO_THE_CAFE))
    seen = {}

    def watch():
        for hour in (1 + 1 / 60, 2.5):  # 08:01, on the way to open the cafe; 09:30, both there
            yield sim.env.timeout(hour * 3600 - sim.env.now)
            seen[hour] = {area: set(sim.town.occupants(*area)) for area in
                          [("Home", "bedroom"), ("Home", "kitchen"), ("Cafe", "hall")]}

    sim.env.process(watch())
    sim.run(tiny.start + dt.timedelta(hours=3))
    walking = seen[1 + 1 / 60]
    assert "Ann" not in walking[("Home", "bedroom")] | walking[("Cafe", "hall")]  # on the road
    assert seen[2.5][("Cafe", "hall")] == {"Ann", "Bob"}
    for area, names in seen[2.5].items():  # agree with where each agent says it is
        assert all(sim.town.location(n).area_key == area for n in names)
