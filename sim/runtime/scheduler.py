"""Out-of-order scheduling: areas of the town run on their own clocks, each up to a safe horizon.

One agent's answer can reach another only through the town: they share an
area (perception, conversation, objects), or one walks into the other's
area. Walking takes time, and agents say how long they will stay put
(their ``Promises``, ``sim/context/promises.py``: ``stays_until``, the end of
a step or of a night's sleep, which only someone in the same area can cut
short; ``alone_until``, the end of the chunk of the day, which only talking
or a whisper can). So the events of an area
can run ahead, up to a horizon before which nobody outside can arrive:

    horizon(g) = min over other areas a of  departs(a) + minutes(a -> g),
                 the arrival of anyone already on the way to g,
                 and departs(g) + a round trip
    departs(a) = max(first pending event in a,
                     min(promises of those in a, arrivals into a))

Departures depend on arrivals, so ``departs`` is relaxed to a fixpoint. A
room named after residents counts only its owners' arrivals (``Town``
refuses anyone else), and no area runs more than ``MAX_AHEAD_S`` ahead of
the slowest, so the rows waiting to be numbered stay bounded.

An area's events (including the arrival of whoever walks in) run in key
order (``sim.core.kernel``), so together they are exactly the in-order run
restricted to that area; an agent on the way is alone until it arrives, and
its own events (memories consolidating) run whenever they are due. Agents in
one area are one cluster; clusters form and dissolve as agents walk.

A cluster whose next event is an answer that has not arrived stops there;
the others go on, asking their own questions meanwhile, which is the point:
more requests in flight for the shared workers. When nothing can go on, the
scheduler waits for any answer. The event with the smallest key is always
safe, so the run never deadlocks: at worst it is the in-order run.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Mapping

import numpy as np
from simpy.events import Event

from agentville.sim.core.kernel import Kernel, Key
from agentville.sim.generation import GenerationService
from agentville.sim.generation.service import Delivery
from agentville.sim.store.eventlog import EventLog
from agentville.sim.world.geography import World
from agentville.sim.world.town import Town

from .distances import Distances

Area = tuple[str, str]
SOLO = None  # the group of an agent on its way, until its arrival is its next event
BATCH_S = 0.002  # after an answer arrives, how long to collect others before going on
MAX_AHEAD_S = 2 * 3600.0  # no area runs further ahead of the slowest: rows waiting to be numbered stay few


class Scheduler:
    """Runs an out-of-order ``Kernel`` up to a simulated second, one safe area at a time."""

    def __init__(self, kernel: Kernel, town: Town, world: World, log: EventLog, llm: GenerationService,
                 homes: Mapping[str, Area], promises: Callable[[str], tuple[float, float]]):
        self.kernel, self.town, self.log, self.llm = kernel, town, log, llm
        self.homes, self.promises = homes, promises
        self.distances = Distances(world, 2 * MAX_AHEAD_S)  # longer walks never set a horizon (see distances)
        self.rounds = 0
        self.private = world.private_areas  # rooms only their owners walk into
        self._not_placed: dict[Area, list[str]] = {}  # agents not in the town yet, by home (see _unplaced)
        self._homes_seen = 0

    # -- the loop -------------------------------------------------------------
    def run_until(self, end: float, on_time: Callable[[float], None] | None = None) -> None:
        """Process every event before ``end``; ``on_time(t)`` whenever no event before ``t`` is left."""
        kernel = self.kernel
        while True:
            heads = {owner: queue[0] for owner, queue in kernel.queues.items() if queue}
            first = min((key for key, _ in heads.values()), default=None)
            kernel.safe_time = end if first is None else min(first[0], end)
            self.log.release(first)
            if on_time is not None:
                on_time(kernel.safe_time)
            if first is None or first[0] >= end:
                break
            self.rounds += 1
            groups, solos = self._groups(heads)
            horizons = self._horizons(groups, solos)
            stalled: list[concurrent.futures.Future] = []
            ran = 0
            limit = min(end, first[0] + MAX_AHEAD_S)
            for area in sorted(groups, key=lambda a: groups[a][0]):
                ran += self._run_area(area, min(horizons.get(area, np.inf), limit), stalled)
            for owner in solos:
                ran += self._run_solo(owner, limit, stalled)
            if ran == 0:
                self._global_first(heads, first, stalled)
        kernel.stand_at(end)

    def _global_first(self, heads: dict, first: Key, stalled: list[concurrent.futures.Future]) -> None:
        """Nothing was safe under the horizons: run the smallest key, or wait for an answer."""
        owner = next(o for o, (key, _) in heads.items() if key == first)
        event = heads[owner][1]
        if isinstance(event, Delivery) and not event.future.done():
            patience = self.llm.wait_timeout_s - event.waited_s
            if patience > 0:
                self._wait(stalled + [event.future], patience, event)
                return
        self.kernel.pop_head(owner)
        self.kernel.process_event(first, event)

    def _wait(self, futures: list[concurrent.futures.Future], patience: float, first: Delivery) -> None:
        """Block until an answer arrives (at most ``patience`` s); the wait counts against the first delivery."""
        start = time.monotonic()
        done, _ = concurrent.futures.wait(futures, timeout=patience, return_when=concurrent.futures.FIRST_COMPLETED)
        if done and BATCH_S:
            concurrent.futures.wait([f for f in futures if f not in done], timeout=BATCH_S)
        waited = time.monotonic() - start
        first.waited_s += waited
        self.llm.waits += 1
        self.llm.blocked_s += waited

    # -- clusters -------------------------------------------------------------
    def _area_of(self, owner: str | None, event: Event) -> Area | None:
        """The area whose clock an agent's next event runs on (SOLO while it walks and it is not the arrival)."""
        if owner is None:
            raise RuntimeError("an event outside any agent cannot run out of order")
        walk = self.town.walking.get(owner)
        if walk is not None:
            return walk.area if event is walk.arrival else SOLO
        where = self.town.locations.get(owner)
        return where.area_key if where is not None else self.homes[owner]

    def _groups(self, heads: dict) -> tuple[dict[Area, list], list[str]]:
        groups: dict[Area, list] = {}  # area -> [first pending time, owners with events there]
        solos = []
        for owner, (key, event) in heads.items():
            area = self._area_of(owner, event)
            if area is SOLO:
                solos.append(owner)
                continue
            group = groups.setdefault(area, [key[0], []])
            group[0] = min(group[0], key[0])
            group[1].append(owner)
        return groups, solos

    def _horizons(self, groups: dict[Area, list], solos: list[str]) -> dict[Area, float]:
        """Each area's safe horizon: before it, no one from elsewhere can arrive.

        First the earliest moment anyone can leave each area with people in
        it (``departs``): not before its first pending event, nor before its
        people's promises; a lone agent keeps its promise to stay the whole
        chunk unless someone arrives to talk, two or more may start talking
        when one of them next decides something. Arrivals depend on
        departures elsewhere, so this is relaxed to a fixpoint, from above.
        """
        areas = list(groups)
        arrives: dict[Area, float] = {}  # agents on their way, alone until they arrive
        for owner in solos:
            walk = self.town.walking[owner]
            arrives[walk.area] = min(arrives.get(walk.area, np.inf), walk.arrives)
        areas += [a for a in arrives if a not in groups]
        first = np.array([groups[a][0] if a in groups else np.inf for a in areas])
        own = np.full(len(areas), np.inf)
        for i, area in enumerate(areas[:len(groups)]):
            present = self.town.occupants(*area) | set(groups[area][1])
            promises = [self.promises(o) for o in present]
            own[i] = min(alone for _, alone in promises)
            if len(promises) > 1:  # one may talk to another when it next decides something
                own[i] = min(own[i], min(stays for stays, _ in promises))
        walkers = np.array([arrives.get(a, np.inf) for a in areas])
        src, dst, seconds, roundtrip = self.distances.among(areas)
        departs = np.minimum(walkers, np.maximum(first, np.minimum(own, walkers)))
        while True:
            reach = np.full(len(areas), np.inf)
            np.minimum.at(reach, dst, departs[src] + seconds)  # the earliest anyone from elsewhere arrives
            arriving = np.minimum(walkers, reach)
            relaxed = np.minimum(departs, np.minimum(walkers, np.maximum(first, np.minimum(own, arriving))))
            if np.array_equal(relaxed, departs):
                break
            departs = relaxed
        # Anyone here may also walk away and come back.
        horizon = np.minimum(arriving, departs + roundtrip)
        index = {area: i for i, area in enumerate(areas)}
        earliest = float(first.min())  # no one anywhere acts before it
        for area in groups:
            owners = self.private.get(area)
            if owners:  # someone's room: only its owners come in (Town enforces it)
                i = index[area]
                outside = owners - set(groups[area][1])  # an owner whose arrival is next here runs on its clock
                horizon[i] = min([departs[i] + roundtrip[i],
                                  *(self._owner_arrives(o, area, index, departs, earliest) for o in outside)])
        return {area: float(horizon[i]) for i, area in enumerate(areas[:len(groups)])}

    def _owner_arrives(self, owner: str, room: Area, index: dict[Area, int], departs: np.ndarray,
                       earliest: float) -> float:
        """The earliest an owner who is not in its room can walk in."""
        walk = self.town.walking.get(owner)
        if walk is not None:
            return walk.arrives + self._distance(walk.area, room)
        where = self.town.locations.get(owner)
        area = where.area_key if where is not None else self.homes.get(owner)
        if area == room or area is None:
            return np.inf if area == room else earliest
        leaves = departs[index[area]] if area in index else earliest
        return float(leaves) + self._distance(area, room)

    def _distance(self, a: Area, b: Area) -> float:
        return self.distances.between(a, b)

    # -- running --------------------------------------------------------------
    def _run_area(self, area: Area, horizon: float, stalled: list[concurrent.futures.Future]) -> int:
        """Run an area's events in key order while they are before its horizon and their answers are in."""
        town, queues, ran = self.town, self.kernel.queues, 0
        while True:
            best: tuple[Key, str] | None = None
            members = [*town.occupants(*area), *town.arriving.get(area, ()), *self._unplaced(area)]
            for owner in members:
                queue = queues.get(owner)
                if queue and (best is None or queue[0][0] < best[0]):
                    walk = town.walking.get(owner)
                    if walk is None or queue[0][1] is walk.arrival:
                        best = (queue[0][0], owner)
            if best is None or best[0][0] >= horizon:
                return ran
            key, owner = best
            if not self._run_if_answered(owner, key, queues[owner][0][1], stalled):
                return ran
            ran += 1

    def _unplaced(self, area: Area) -> list[str]:
        """Agents whose life has not started yet (they start at home)."""
        if len(self.homes) != self._homes_seen:  # agents were added
            self._homes_seen = len(self.homes)
            self._not_placed = {}
            for owner, home in self.homes.items():
                if owner not in self.town.locations:
                    self._not_placed.setdefault(home, []).append(owner)
        waiting = self._not_placed.get(area)
        if not waiting:
            return []
        waiting[:] = [o for o in waiting if o not in self.town.locations]
        return waiting

    def _run_solo(self, owner: str, end: float, stalled: list[concurrent.futures.Future]) -> int:
        """An agent on its way: its own events, up to its arrival (which runs on the area's clock)."""
        queue, ran = self.kernel.queues[owner], 0
        while queue:
            key, event = queue[0]
            walk = self.town.walking.get(owner)
            if walk is None or event is walk.arrival or key[0] >= end or \
                    not self._run_if_answered(owner, key, event, stalled):
                return ran
            ran += 1
        return ran

    def _run_if_answered(self, owner: str, key: Key, event: Event, stalled: list[concurrent.futures.Future]) -> bool:
        """Run an agent's next event, unless it delivers an answer still on its way (then note what it waits for)."""
        if isinstance(event, Delivery) and not event.future.done():
            stalled.append(event.future)
            return False
        self.kernel.pop_head(owner)
        self.kernel.process_event(key, event)
        return True
