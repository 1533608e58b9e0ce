"""A hostile OpenAI-compatible server cannot exhaust memory or hang a run (issue 26, items 5 and 6).

Every misbehaviour of ``tests/hostile.py`` must end its attempt as a fault
within a bound derived from the settings (one deadline per attempt, a byte
cap per answer) and in bounded memory, and the backend's worker must be free
for the next request, which a well-behaved replica answers.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import tracemalloc

import pytest

from agentville.sim.generation.openai_backend import BackendUnavailable, OpenAIBackend
from agentville.sim.generation.requests import ChoiceRequest, GenerationFailed, TextRequest
from agentville.sim.generation.wire import ENVELOPE_BYTES, answer_cap
from tests.conftest import ROOT, WORLDS
from tests.hostile import MB, POLITE_MODES, HostileServer
from tests.servers import FakeOpenAIServer
from tests.test_reliability import assert_stopped_in_one_line

TIMEOUT_S = 1.0  # the per-attempt deadline of every backend here
SLACK_S = 1.5  # the second, well-behaved attempt, thread hand-offs, a loaded machine
MEMORY_BYTES = 24 * MB  # the most a request may allocate, the hostile server's own buffers included
GIB = 1024 * MB


@pytest.fixture(scope="module")
def good():
    with FakeOpenAIServer() as server:
        yield server


def backend_on(*urls: str, **options) -> OpenAIBackend:
    """One worker (so a stuck one shows), one retry on the next replica, no backoff; turns taken in the order
    given, so the first request meets the first replica (the hostile one) and the next one the other."""
    options = {"retries": 1, "backoff_s": 0.0, "timeout_s": TIMEOUT_S, "max_concurrency": 1,
               "routing": "round-robin"} | options
    return OpenAIBackend("tiny", list(urls), **options)


def measured(work):
    """(result or exception, wall seconds, peak bytes allocated meanwhile)."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        outcome = work()
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        outcome = exc
    wall = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, wall, peak


# (mode, server options, what the fault says); each is answered on the second replica
FAULTS = [
    ("gzip-bomb", {"size": GIB}, r"an answer over \d+ bytes from http://127\.0\.0\.1:\d+/v1/completions"),
    ("deflate-bomb", {"size": GIB}, r"an answer over \d+ bytes from"),
    ("endless", {}, r"an answer over \d+ bytes from"),
    ("huge", {"size": 50 * MB}, r"an answer of \d{8} bytes from .*, over the \d+-byte cap"),
    ("huge-500", {"size": 50 * MB}, r"HTTP 500 from"),
    ("drip-body", {"drip_s": 0.2}, r"no complete answer from .* within 1s"),
    ("drip-body", {"drip_s": 0.05}, r"no complete answer from .* within 1s"),
    ("drip-headers", {"drip_s": 0.2}, r"no complete answer from .* within 1s"),
    ("drip-headers", {"drip_s": 0.05}, r"no complete answer from .* within 1s"),
    ("silent", {}, r"no complete answer from .* within 1s"),
    ("brotli", {}, r"an answer in the encoding 'br'"),
]


@pytest.mark.parametrize("mode, server_options, reason", FAULTS, ids=[f"{f[0]}-{i}" for i, f in enumerate(FAULTS)])
def test_a_hostile_replica_is_a_fault_within_the_deadline_and_in_bounded_memory(good, mode, server_options, reason):
    with HostileServer(mode, **server_options) as hostile, backend_on(hostile.url, good.url) as backend:
        request = TextRequest(prompt="Hi", seed=1, max_tokens=64)
        outcome, wall, peak = measured(lambda: backend.submit(request).result(timeout=TIMEOUT_S + SLACK_S))
        assert not isinstance(outcome, Exception), f"{mode}: {outcome!r} after {wall:.1f}s"
        assert outcome.text == "hello world" and outcome.info["replica"] == good.url + "/v1"
        assert len(outcome.info["faults"]) == 1 and re.search(reason, outcome.info["faults"][0]), outcome.info
        assert wall < TIMEOUT_S + SLACK_S and peak < MEMORY_BYTES, (wall, peak)
        assert hostile.requests[-1] == "/v1/completions"
        after = backend.submit(TextRequest(prompt="Hi again", seed=2)).result(timeout=5)  # the worker is free
        assert after.text == "hello world"


@pytest.mark.parametrize("mode, limit", [("length-lie", 10 ** 12), ("huge", 50 * MB), ("huge", 2 * MB)])
def test_a_declared_length_over_the_cap_is_refused_before_reading(good, mode, limit):
    with HostileServer(mode, size=limit) as hostile, backend_on(hostile.url, good.url) as backend:
        outcome, wall, peak = measured(lambda: backend.submit(TextRequest(prompt="Hi", seed=1)).result(timeout=5))
    assert outcome.text == "hello world", outcome
    assert f"over the {answer_cap(64)}-byte cap" in outcome.info["faults"][0]
    assert wall < TIMEOUT_S / 2 and peak < MEMORY_BYTES  # not waiting for the body that never comes


@pytest.mark.parametrize("mode", ["gzip-bomb", "deflate-bomb"])
@pytest.mark.parametrize("inflated", [3 * MB, 5 * MB])
def test_a_compressed_answer_may_not_inflate_beyond_the_ratio_even_under_its_cap(good, mode, inflated):
    """A request allowing 100k tokens has a cap over 6 MB; zeros inflate about 1000-fold, past the 200 allowed."""
    with HostileServer(mode, size=inflated) as hostile, backend_on(hostile.url, good.url) as backend:
        request = TextRequest(prompt="Hi", seed=1, max_tokens=100_000)
        outcome, wall, peak = measured(lambda: backend.submit(request).result(timeout=5))
    assert answer_cap(100_000) > inflated and outcome.text == "hello world", outcome
    assert "inflating over 200-fold" in outcome.info["faults"][0]
    assert peak < MEMORY_BYTES


@pytest.mark.parametrize("status, size", [(400, 50 * MB), (422, 20 * MB)])
def test_a_huge_refusal_is_read_only_for_its_message(good, status, size):
    with HostileServer(f"huge-{status}", size=size) as hostile, backend_on(hostile.url, good.url) as backend:
        outcome, wall, peak = measured(lambda: backend.submit(TextRequest(prompt="Hi", seed=1)).result(timeout=5))
        assert isinstance(outcome, GenerationFailed) and f"(HTTP {status}): xxx" in str(outcome), outcome
        assert len(str(outcome)) < 500 and peak < 8 * MB and wall < 1  # the server's own 1 MB blocks included
        assert backend.submit(TextRequest(prompt="Hi", seed=2)).result(timeout=5).text == "hello world"


@pytest.mark.parametrize("pause_s", [0.4, 0.3])
def test_the_guided_tries_of_one_attempt_share_its_deadline(pause_s):
    """A server refusing each guided field slowly: the attempt ends at its deadline, not after every field."""
    with HostileServer("slow-refusal", drip_s=pause_s) as hostile, FakeOpenAIServer(text=lambda body: "yes") as good, \
            backend_on(hostile.url, good.url) as backend:
        request = ChoiceRequest(prompt="Pick", options=("yes", "no"), seed=3)
        outcome, wall, _ = measured(lambda: backend.submit(request).result(timeout=5))
    assert not isinstance(outcome, Exception), outcome
    assert outcome.text in ("yes", "no") and "within 1s" in outcome.info["faults"][0], outcome
    assert wall < TIMEOUT_S + SLACK_S and hostile.requests.count("/v1/completions") <= TIMEOUT_S / pause_s + 1


@pytest.mark.parametrize("mode, options", [("huge-models", {"size": 50 * MB}), ("drip-models", {"drip_s": 0.2}),
                                           ("drip-models", {"drip_s": 0.05})])
def test_the_health_check_drops_a_hostile_replica_in_bounded_time_and_memory(good, mode, options):
    with HostileServer(mode, **options) as hostile:
        outcome, wall, peak = measured(lambda: backend_on(hostile.url, good.url))
        assert isinstance(outcome, OpenAIBackend), outcome
        with outcome as backend:
            assert backend.base_urls == [good.url + "/v1"]
        assert wall < TIMEOUT_S + SLACK_S and peak < MEMORY_BYTES
        with pytest.raises(BackendUnavailable, match=r"^cannot use the OpenAI-compatible server at .*/v1 \("):
            backend_on(hostile.url)


@pytest.mark.parametrize("mode", POLITE_MODES)
def test_a_well_formed_compressed_answer_is_read(mode):
    with HostileServer(mode) as polite, backend_on(polite.url, retries=0) as backend:
        completion = backend.submit(TextRequest(prompt="Hi", seed=1)).result(timeout=5)
    assert completion.text == "hello world" and "faults" not in completion.info


def test_a_compressed_answer_that_stops_midway_is_a_fault(good):
    with HostileServer("cut-gzip") as hostile, backend_on(hostile.url, good.url) as backend:
        completion = backend.submit(TextRequest(prompt="Hi", seed=1)).result(timeout=5)
    assert completion.text == "hello world" and "gzip answer from" in completion.info["faults"][0]


def test_the_caps_follow_max_tokens():
    assert answer_cap(0) == ENVELOPE_BYTES and answer_cap(1000) == ENVELOPE_BYTES + 64_000
    assert answer_cap(-5) == ENVELOPE_BYTES


@pytest.mark.parametrize("mode", ["drip-body", "drip-headers"])
def test_a_run_against_a_dripping_server_stops_in_one_line(tmp_path, mode):
    scenario = tmp_path / "drip.yaml"
    scenario.write_text((WORLDS / "the_ville_3.yaml").read_text().replace(
        "\ngeneration:\n", "\ngeneration:\n  on_failure: stop\n  retries: 0\n  timeout_s: 1\n"))
    with HostileServer(mode, drip_s=0.1) as hostile:
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", str(scenario), "--llm", "openai",
                               "--model", "tiny", "--base-url", hostile.url, "--db", str(tmp_path / "drip.db"),
                               "--until", "+1h", "--no-progress"], capture_output=True, text=True, cwd=ROOT,
                              timeout=60)
    assert_stopped_in_one_line(done, "no complete answer from", "within 1s")
    assert time.monotonic() - started < 30
