"""Routing requests to replicas: each agent kept on one replica (for its prefix cache), load as the guard."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import subprocess
import sys
import time

import pytest

from agentville.sim.generation.openai_backend import OpenAIBackend
from agentville.sim.generation.requests import ChoiceRequest, TextRequest
from agentville.sim.generation.routing import OPENING_CHARS, Router, ranking, route_key
from tests.servers import FakeOpenAIServer

WAIT_S = 20
NAMES = ["Isabella Rodriguez", "Klaus Mueller", "Maria Lopez", "John Lin", "Mei Lin", "Eddy Lin", "Tom Moreno",
         "Jane Moreno", "Sam Moore", "Jennifer Moore", "Yuriko Yamamoto", "Adam Smith", "Carmen Ortiz",
         "Tamara Taylor", "Arthur Burton", "Ryan Park", "Latoya Williams", "Rajiv Patel", "Abigail Chen",
         "Francisco Lopez", "Hailey Johnson", "Giorgio Rossi", "Carlos Gomez", "Wolfgang Schulz", "Ayesha Khan"]
AGENTS = [f"{name} {n}" for n in range(2) for name in NAMES][:40]
URL_SETS = [[f"http://10.0.0.{n}:8000/v1" for n in range(1, 3)],
            ["http://gpu-a.local:8000/v1", "http://gpu-b.local:8000/v1"],
            [f"http://127.0.0.1:{port}/v1" for port in (8001, 8002, 8003)]]


def backend_for(*servers: FakeOpenAIServer, **options) -> OpenAIBackend:
    options = {"retries": 4, "backoff_s": 0.01, "timeout_s": 5} | options
    return OpenAIBackend("tiny", [server.url for server in servers], **options)


def replica_of(backend: OpenAIBackend, request) -> str:
    return backend.submit(request).result(timeout=WAIT_S).info["replica"]


def first_choice(router: Router, urls: list[str], agent: str | None, prompt: str = "") -> str:
    return urls[router.order(urls, agent, prompt)[0]]


# ----- against servers -----

@pytest.mark.parametrize("agents", [NAMES[:3], NAMES[3:8], ["a", "b", "c"]])
def test_an_agent_always_lands_on_the_same_replica(agents):
    with FakeOpenAIServer() as a, FakeOpenAIServer() as b, backend_for(a, b) as backend:
        seen = collections.defaultdict(set)
        for turn in range(6):  # interleaved, different prompts and kinds, as a run asks
            for agent in agents:
                request = (TextRequest(f"{agent} plans, turn {turn}", agent=agent) if turn % 2 else
                           ChoiceRequest(f"{agent} chooses, turn {turn}", ("yes", "no"), agent=agent))
                seen[agent].add(replica_of(backend, request))
    assert all(len(replicas) == 1 for replicas in seen.values()), seen


def test_agents_spread_over_two_replicas():
    with FakeOpenAIServer() as a, FakeOpenAIServer() as b, backend_for(a, b) as backend:
        share = collections.Counter(replica_of(backend, TextRequest("hello", agent=agent)) for agent in AGENTS)
    assert set(share) == {f"{a.url}/v1", f"{b.url}/v1"}
    assert all(0.25 * len(AGENTS) <= count <= 0.75 * len(AGENTS) for count in share.values()), share


def test_a_busy_preferred_replica_spills_to_the_other():
    sleepy = [("sleep", 1.0)] * 3
    with FakeOpenAIServer(faults=sleepy) as a, FakeOpenAIServer(faults=sleepy) as b, \
            backend_for(a, b, max_concurrency=8) as backend:
        preferred = replica_of(backend, TextRequest("warm up", agent="Klaus Mueller"))
        server = a if preferred == f"{a.url}/v1" else b
        server.faults = list(sleepy)  # the warm-up may have used one of its sleeps
        busy = [backend.submit(TextRequest(f"q{n}", agent="Klaus Mueller")) for n in range(3)]
        deadline = time.monotonic() + 5
        while len(server.posts) < 4 and time.monotonic() < deadline:  # the three are on the wire
            time.sleep(0.01)
        spilled = replica_of(backend, TextRequest("one more", agent="Klaus Mueller"))
        assert [future.result(timeout=WAIT_S).info["replica"] for future in busy] == [preferred] * 3
        back = replica_of(backend, TextRequest("and again", agent="Klaus Mueller"))
    assert spilled != preferred
    assert back == preferred  # once the load is gone, the agent's own replica again


def test_the_preferred_replica_failing_is_covered_by_the_other_at_once():
    with FakeOpenAIServer() as a, FakeOpenAIServer() as b, backend_for(a, b, backoff_s=1) as backend:
        preferred = replica_of(backend, TextRequest("hi", agent="Maria Lopez"))
        server = a if preferred == f"{a.url}/v1" else b
        server.faults = [500]
        started = time.monotonic()
        completion = backend.submit(TextRequest("again", agent="Maria Lopez")).result(timeout=WAIT_S)
        assert time.monotonic() - started < 0.5  # no backoff: the round is not over
        assert (completion.retries, completion.info["replica"]) == (1, next(
            f"{s.url}/v1" for s in (a, b) if s is not server))
        assert replica_of(backend, TextRequest("later", agent="Maria Lopez")) == preferred


def test_a_replica_dropped_at_the_start_moves_only_its_own_agents():
    with contextlib.ExitStack() as stack:
        a, b, c = (stack.enter_context(FakeOpenAIServer()) for _ in range(3))
        with backend_for(a, b, c) as backend:
            before = {agent: replica_of(backend, TextRequest("hi", agent=agent)) for agent in AGENTS}
        c.stop()  # down when the next run starts: the health check drops it
        with backend_for(a, b, c) as backend:
            assert len(backend.base_urls) == 2
            after = {agent: replica_of(backend, TextRequest("hi", agent=agent)) for agent in AGENTS}
    gone = f"{c.url}/v1"
    assert 0 < sum(where == gone for where in before.values()) < len(AGENTS)
    assert all(after[agent] == where for agent, where in before.items() if where != gone)
    assert {after[agent] for agent, where in before.items() if where == gone} <= {f"{a.url}/v1", f"{b.url}/v1"}


def test_requests_without_an_agent_route_by_the_prompts_opening():
    instructions = [f"You are the narrator of town {n}. " + "Answer in one line. " * 20 for n in range(40)]
    assert all(len(text) >= OPENING_CHARS for text in instructions)
    with FakeOpenAIServer() as a, FakeOpenAIServer() as b, backend_for(a, b) as backend:
        places = [{replica_of(backend, TextRequest(text + f"Question {q}?")) for q in range(3)} for text in instructions]
    assert all(len(where) == 1 for where in places)  # the same opening, whatever follows: one replica
    assert {where.pop() for where in places} == {f"{a.url}/v1", f"{b.url}/v1"}  # different openings spread


def test_round_robin_is_still_there_and_ignores_the_agent():
    with FakeOpenAIServer() as a, FakeOpenAIServer() as b, backend_for(a, b, routing="round-robin") as backend:
        replicas = [replica_of(backend, TextRequest(f"q{n}", agent="Klaus Mueller")) for n in range(6)]
    assert sorted(replicas[:2]) == sorted([f"{a.url}/v1", f"{b.url}/v1"])
    assert replicas == replicas[:2] * 3


@pytest.mark.parametrize("routing", ["random", "", "Agent"])
def test_an_unknown_routing_is_refused(routing):
    with pytest.raises(ValueError, match="routing must be one of agent, round-robin"):
        OpenAIBackend("tiny", ["http://127.0.0.1:9"], routing=routing, check=False)


# ----- the router alone -----

@pytest.mark.parametrize("urls", URL_SETS)
def test_agents_spread_over_fixed_replicas(urls):
    share = collections.Counter(first_choice(Router(), urls, agent) for agent in AGENTS)
    fair = len(AGENTS) / len(urls)
    assert set(share) == set(urls)
    assert all(0.5 * fair <= count <= 1.5 * fair for count in share.values()), share


@pytest.mark.parametrize("urls", URL_SETS)
def test_dropping_a_replica_moves_only_its_agents(urls):
    for gone in urls:
        left = [url for url in urls if url != gone]
        for agent in AGENTS:
            before, after = first_choice(Router(), urls, agent), first_choice(Router(), left, agent)
            assert after == before or before == gone


@pytest.mark.parametrize("preferred_load, other_load, spills", [
    (2, 0, False), (3, 0, True), (3, 1, False), (5, 2, True), (10, 6, False), (11, 6, True), (0, 4, False)])
def test_the_preferred_replica_is_left_only_when_clearly_busier(preferred_load, other_load, spills):
    urls = URL_SETS[0]
    router = Router()
    preferred = first_choice(router, urls, "Klaus Mueller")
    other = next(url for url in urls if url != preferred)
    with contextlib.ExitStack() as stack:
        for url, load in ((preferred, preferred_load), (other, other_load)):
            for _ in range(load):
                stack.enter_context(router.attempt(url))
        assert (router.in_flight(preferred), router.in_flight(other)) == (preferred_load, other_load)
        order = [urls[index] for index in router.order(urls, "Klaus Mueller", "")]
    assert order == ([other, preferred] if spills else [preferred, other])
    assert router.in_flight(preferred) == router.in_flight(other) == 0  # attempts that end are no longer counted


def test_the_prompt_opening_is_the_key_only_without_an_agent():
    opening = "x" * OPENING_CHARS
    assert route_key(None, opening + "one") == route_key(None, opening + "two")
    assert route_key(None, "a" + opening) != route_key(None, "b" + opening)
    assert route_key("Klaus", opening + "one") == route_key("Klaus", "something else")
    assert route_key("Klaus", "") != route_key(None, "Klaus")


def test_routing_is_the_same_in_every_process():
    """``hash()`` is salted per process; the ranking must not be, or reruns would scatter the caches."""
    urls = URL_SETS[2]
    here = [ranking(route_key(agent, ""), urls) for agent in AGENTS]
    script = ("import json, sys; from agentville.sim.generation.routing import ranking, route_key; "
              "urls, agents = json.loads(sys.argv[1]); "
              "print(json.dumps([ranking(route_key(agent, ''), urls) for agent in agents]))")
    for salt in ("1", "2"):
        done = subprocess.run([sys.executable, "-c", script, json.dumps([urls, AGENTS])], capture_output=True,
                              text=True, check=True, env=os.environ | {"PYTHONHASHSEED": salt})
        assert json.loads(done.stdout) == here
