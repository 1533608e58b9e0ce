"""How many model requests overlap: the measure of how well the shared workers can batch.

Usage: python bench/concurrency.py [--latency 0.05] [--hours 24] [--agents 100 300] [--grown-hours 4]
                                   [--from 4] [--scheduling in-order out-of-order] [--no-projection]

Each run uses a backend that gives the fake backend's answers after a fixed
latency L, with unlimited parallelism (a timer thread, no model), and no
cache, so every call costs L of wall time unless it overlaps with others.
Printed per run and engine (in order, out of order): calls, rounds (times
the simulation had to stop and wait for an answer), mean and median requests
in flight at each submission, wall time, the engine's own time (the same run
with the instant fake backend), effective parallelism (calls x L / wall) and
the same without the engine's own time (what a slower model would see), the
oracle bound (calls / the longest chain of dependent requests of one agent:
what a perfect scheduler with unlimited workers could reach) and the share
of it reached, calls and conversations per agent-day.

Projections: the same run again with per-request latencies scaled down from
stated device figures (a choice and a text answer on an H200, and with the
embedded model on this 2-core CPU), and the wall time scaled back up, minus
the engine's own time measured with the instant fake backend. They assume
every request in flight is served concurrently at its single-request
latency, which holds for continuous batching on a GPU up to its batch limit
and is optimistic on the CPU (its micro-batches slow down with size).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime as dt
import heapq
import itertools
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from agentville.sim.core import events
from agentville.sim.generation import ChoiceRequest, Completion, FakeBackend, Request
from agentville.sim.runtime.runner import assemble
from agentville.sim.runtime.scheduler import Scheduler
from agentville.sim.scenario import Scenario, load_scenario
from agentville.sim.scenario.growing import grown  # the same grown towns as bench/engine.py
from agentville.sim.store.eventstore import EventStore

# Per-request latencies (seconds) used for the projections: (choice, text).
DEVICES = {
    "H200, transformers continuous batching": (0.05, 1.5),  # a scored choice, a 64-token text
    "this CPU, embedded Gemma 3 270M": (1.0, 15.0),  # README, Benchmarks: choices ~1 s, texts 5-37 s
}
PROJECTION_TEXT_S = 0.05  # the scaled-down text latency the projection runs use


class LatencyBackend:
    """The fake backend's answers, each delivered after a fixed latency; unlimited parallelism."""

    model_id = FakeBackend.model_id  # same answers, same embedder as the fake backend, but not instant
    traits = dataclasses.replace(FakeBackend.traits, instant=False)

    def __init__(self, choice_s: float, text_s: float):
        self.choice_s, self.text_s = choice_s, text_s
        self.fake = FakeBackend()
        self.in_flight = 0
        self.samples: list[int] = []  # requests in flight at each submission (this one included)
        self._due: list[tuple[float, int, concurrent.futures.Future, Completion]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def submit(self, request: Request) -> concurrent.futures.Future[Completion]:
        future: concurrent.futures.Future[Completion] = concurrent.futures.Future()
        delay = self.choice_s if isinstance(request, ChoiceRequest) else self.text_s
        with self._wake:
            self.in_flight += 1
            self.samples.append(self.in_flight)
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), future, self.fake.answer(request)))
            self._wake.notify()
        return future

    def _serve(self) -> None:
        with self._wake:
            while not self._closed:
                if not self._due:
                    self._wake.wait()
                    continue
                wait = self._due[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                _, _, future, completion = heapq.heappop(self._due)
                self.in_flight -= 1
                future.set_result(completion)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()


def run(scenario: Scenario, hours: float, backend, scheduling: str = "in-order", skip: float = 0.0) -> dict:
    """``hours`` of ``scenario`` after the first ``skip`` hours (run with answers at once: not measured)."""
    if scheduling == "agents-apart":
        original = Scheduler._run_area
        Scheduler._run_area = _agents_apart  # type: ignore[method-assign]
        try:
            return run(scenario, hours, backend, "out-of-order", skip)
        finally:
            Scheduler._run_area = original  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as folder, EventStore(Path(folder) / "bench.db") as store:
        sim = assemble(scenario, store=store, backend=backend, cache_mode="off", scheduling=scheduling)
        end = scenario.start + dt.timedelta(hours=skip + hours)
        sim.start(end)
        if skip:
            latency = getattr(backend, "choice_s", 0.0), getattr(backend, "text_s", 0.0)
            if isinstance(backend, LatencyBackend):
                backend.choice_s = backend.text_s = 0.0
            sim.advance(scenario.start + dt.timedelta(hours=skip))
            if isinstance(backend, LatencyBackend):
                backend.choice_s, backend.text_s = latency
                backend.samples.clear()
        before = {"calls": sim.log.kinds[events.LLM_CALL], "conversations": sim.log.kinds[events.CONVERSATION_END],
                  "waits": sim.llm.waits}
        start = time.perf_counter()
        sim.advance(end)
        wall = time.perf_counter() - start
        summary = sim.finish()
        waits = sim.llm.waits - before["waits"]
        chain = longest_chain(store, summary.run_id, since=skip * 3600)
    agent_days = summary.agents * hours / 24
    calls = summary.llm_calls - before["calls"]
    conversations = summary.by_kind.get(events.CONVERSATION_END, 0) - before["conversations"]
    return {"agents": summary.agents, "calls": calls, "rounds": waits, "wall": wall, "chain": chain,
            "calls/agent-day": calls / agent_days, "conv/agent-day": conversations / agent_days}


def longest_chain(store: EventStore, run_id: str, since: float = 0.0) -> int:
    """The longest chain of dependent requests of any agent, from the log.

    A request of an agent depends on every earlier answer that agent had by
    the time it asked (due at or before its asking, in simulated time). A
    perfect scheduler with unlimited workers needs this many latencies, so
    calls / chain is the oracle bound on effective parallelism. Dependencies
    between agents are left out, which makes the bound optimistic. Only
    requests asked ``since`` seconds into the run or later count.
    """
    calls: dict[str | None, list[tuple[float, float]]] = {}
    for agent, data in store.db.execute(
            "SELECT agent, data FROM events WHERE run_id = ? AND kind = 'llm_call' ORDER BY seq", (run_id,)):
        d = json.loads(data)
        if d["asked"] >= since:
            calls.setdefault(agent, []).append((d["asked"], d["due"]))
    longest = 0
    for asked_due in calls.values():
        delivered: list[tuple[float, int]] = []  # (due, depth) of answers not yet counted as known
        known = 0  # the deepest chain among answers delivered so far
        for asked, due in sorted(asked_due):
            while delivered and delivered[0][0] <= asked:
                known = max(known, heapq.heappop(delivered)[1])
            heapq.heappush(delivered, (due, known + 1))
            longest = max(longest, known + 1)
    return longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="worlds/smallville.yaml")
    parser.add_argument("--latency", type=float, default=0.05, help="fixed latency L of every request (s)")
    parser.add_argument("--hours", type=float, default=24, help="simulated hours of the scenario itself (0: skip it)")
    parser.add_argument("--agents", type=int, nargs="*", default=[100, 300], help="grown towns of this many")
    parser.add_argument("--grown-hours", type=float, default=4, help="simulated hours of the grown towns")
    parser.add_argument("--from", dest="skip", type=float, default=0.0, metavar="HOURS",
                        help="measure the grown towns from this many hours after the start (before it, answers "
                             "come at once and nothing is measured): e.g. 4 for 10:00-11:00 in Smallville")
    parser.add_argument("--no-projection", action="store_true", help="skip the device projections")
    parser.add_argument("--agents-apart", action="store_true",
                        help="also a bound: out of order with agents of one area running apart, unchecked "
                             "(the log is not exact; only to see what such a scheduler could gain)")
    parser.add_argument("--scheduling", nargs="*", default=["in-order", "out-of-order"],
                        choices=["in-order", "out-of-order"], help="engines to compare")
    args = parser.parse_args()
    base = load_scenario(args.scenario)
    towns = [(base, args.hours, 0.0)] * (args.hours > 0) + [(grown(base, n), args.grown_hours, args.skip)
                                                             for n in args.agents]
    print(f"fixed latency L = {args.latency * 1000:.0f} ms, unlimited parallelism, no cache; oracle = calls / the "
          f"longest chain of dependent requests of one agent")
    print(f"{'town':<22} {'agents':>6} {'window':>11} {'engine':<12} {'calls':>7} {'rounds':>7} {'in flight':>9} "
          f"{'median':>6} {'wall s':>7} {'engine s':>8} {'eff. par.':>9} {'w/o engine':>11} {'oracle':>7} {'share':>6} "
          f"{'calls/agent-day':>15} "
          f"{'conv/agent-day':>14}")
    schedulings = [*args.scheduling, *(["agents-apart"] if args.agents_apart else [])]
    for town, hours, skip in towns:
        for scheduling in schedulings:
            backend = LatencyBackend(args.latency, args.latency)
            try:
                r = run(town, hours, backend, scheduling, skip)
            finally:
                backend.close()
            engine_s = run(town, hours, FakeBackend(), scheduling, skip)["wall"]  # the engine's own time, no waiting
            effective, oracle = r["calls"] * args.latency / r["wall"], r["calls"] / max(1, r["chain"])
            waiting = r["calls"] * args.latency / max(1e-9, r["wall"] - engine_s)
            print(f"{town.name[:22]:<22} {r['agents']:>6} {_window(town, skip, hours):>11} {scheduling:<12} "
                  f"{r['calls']:>7} {r['rounds']:>7} {statistics.mean(backend.samples):>9.1f} "
                  f"{statistics.median(backend.samples):>6.0f} {r['wall']:>7.1f} {engine_s:>8.1f} {effective:>9.1f} "
                  f"{waiting:>11.1f} {oracle:>7.1f} {effective / oracle:>6.0%} {r['calls/agent-day']:>15.1f} "
                  f"{r['conv/agent-day']:>14.2f}", flush=True)
    if args.no_projection:
        return
    print(f"\nprojected wall time of {base.name}, {args.hours:g} simulated hours")
    print(f"{'device':<40} {'engine':<12} {'choice s':>8} {'text s':>7} {'projected wall':>15}")
    for scheduling in args.scheduling:
        engine_s = run(base, args.hours, FakeBackend(), scheduling)["wall"]
        for device, (choice_s, text_s) in DEVICES.items():
            scale = PROJECTION_TEXT_S / text_s
            backend = LatencyBackend(choice_s * scale, text_s * scale)
            try:
                wall = run(base, args.hours, backend, scheduling)["wall"]
            finally:
                backend.close()
            projected = max(0.0, wall - engine_s) / scale + engine_s
            print(f"{device:<40} {scheduling:<12} {choice_s:>8.2f} {text_s:>7.2f} {projected / 60:>11.1f} min",
                  flush=True)


def _agents_apart(self: Scheduler, area, horizon: float, stalled: list) -> int:
    """``Scheduler._run_area`` without the one check that serialises an area: an agent waiting for its
    answer holds back only itself, not the others in its area. The log is then NOT exact (an agent may
    see another's state from before that one's answer): this is only a bound on what a scheduler that lets
    agents of one area run apart, with exact checks when they engage, could reach."""
    town, queues, ran, waiting = self.town, self.kernel.queues, 0, set()
    while True:
        best = None
        for owner in [*town.occupants(*area), *town.arriving.get(area, ()), *self._unplaced(area)]:
            queue = queues.get(owner)
            if owner not in waiting and queue and (best is None or queue[0][0] < best[0]):
                walk = town.walking.get(owner)
                if walk is None or queue[0][1] is walk.arrival:
                    best = (queue[0][0], owner)
        if best is None or best[0][0] >= horizon:
            return ran
        key, owner = best
        if self._run_if_answered(owner, key, queues[owner][0][1], stalled):
            ran += 1
        else:
            waiting.add(owner)


def _window(town: Scenario, skip: float, hours: float) -> str:
    start = town.start + dt.timedelta(hours=skip)
    return f"{start:%H:%M}-{start + dt.timedelta(hours=hours):%H:%M}" if hours < 24 else f"{hours:g} h"


if __name__ == "__main__":
    main()
