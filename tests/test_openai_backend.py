"""The OpenAI-compatible backend: faults against a scripted fake, then a real ``transformers serve``."""

from __future__ import annotations

import concurrent.futures
import time
import traceback
from pathlib import Path

import pytest

from agentville.sim.generation.choices import choice_max_tokens, parse_choice
from agentville.sim.generation.decoding import apply_stops
from agentville.sim.generation.openai_backend import BackendUnavailable, OpenAIBackend, normalise_base_url
from agentville.sim.generation.replicas import redact
from agentville.sim.generation.requests import ChoiceRequest, GenerationFailed, TextRequest, derive_seed
from tests.servers import GUIDED, CountingProxy, FakeOpenAIServer, TransformersServe, free_port, serving_available

WAIT_S = 20  # no future is awaited longer than this


@pytest.fixture
def fake():
    with FakeOpenAIServer() as server:
        yield server


def backend_for(*servers: FakeOpenAIServer, dead_url: str | None = None, **options) -> OpenAIBackend:
    """A backend on the fake servers (and ``dead_url``), with fast retries unless the test says otherwise."""
    options = {"retries": 4, "backoff_s": 0.01, "timeout_s": 5} | options
    urls = [server.url for server in servers] + ([dead_url] if dead_url else [])
    return OpenAIBackend("tiny", urls, **options)


def answer(backend: OpenAIBackend, request):
    return backend.submit(request).result(timeout=WAIT_S)


# ----- pure helpers -----

@pytest.mark.parametrize("text, options, expected", [
    (" yes \n", ("yes", "no"), "yes"),
    ("I think No.", ("yes", "no"), "no"),
    ("not sure, maybe yes", ("yes", "no"), "yes"),       # "no" is not found inside "not"
    ("10 out of 10", [str(n) for n in range(1, 11)], "10"),  # the longer option wins a tie
    ("I'd say 7, not 10", [str(n) for n in range(1, 11)], "7"),  # the earliest option wins
    ("Cafe: hall: counter, then the park", ("Cafe", "Cafe: hall: counter", "Park"), "Cafe: hall: counter"),
    ("gibberish", ("yes", "no"), None),
])
def test_parse_choice(text, options, expected):
    assert parse_choice(text, options) == expected


def test_urls_are_normalised_and_stop_strings_cut():
    assert normalise_base_url("http://h:8000") == "http://h:8000/v1"
    assert normalise_base_url("http://h:8000/v1/") == "http://h:8000/v1"
    assert normalise_base_url("h:8000") == "http://h:8000/v1"
    assert apply_stops("one. two\nthree", (".", "\n")) == ("one", True)
    assert apply_stops("one", ()) == ("one", False)
    assert choice_max_tokens(("yes", "no")) == 11


# ----- against the scripted fake -----

def test_text_request_sends_the_parameters_and_reports_usage(fake):
    with backend_for(fake) as backend:
        completion = answer(backend, TextRequest("Ann is", max_tokens=7, stop=("\n",), temperature=0.3,
                                                 top_p=0.9, seed=11))
    assert backend.model_id == "openai:tiny"
    assert (completion.text, completion.prompt_tokens, completion.output_tokens) == ("hello world", 2, 2)
    assert completion.retries == 0 and not completion.fallback
    assert set(completion.info) == {"queue_wait_s", "latency_s", "replica"}
    assert completion.info["replica"] == f"{fake.url}/v1"
    assert fake.posts == [{"model": "tiny", "prompt": "Ann is", "max_tokens": 7, "temperature": 0.3,
                           "top_p": 0.9, "seed": 11, "stop": ["\n"]}]


@pytest.mark.parametrize("faults", [[500, 502, 503], [429], ["garbage"], ["drop"], ["drop", 500, "garbage"]])
def test_faults_are_retried_and_counted(faults):
    with FakeOpenAIServer(faults=faults) as server, backend_for(server) as backend:
        completion = answer(backend, TextRequest("hi"))
    assert completion.text == "hello world"
    assert completion.retries == len(faults)
    assert len(server.posts) == len(faults) + 1


@pytest.mark.parametrize("text", [None, {"content": "hi"}, 42, ["hi"], True])
def test_an_answer_whose_text_is_not_a_string_is_a_fault_asked_again(text):
    """A 200 with ``"text": null`` was taken as the answer "None" (issue 26, item 7)."""
    bad = {"object": "text_completion", "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    with FakeOpenAIServer(faults=[("body", bad)]) as server, backend_for(server) as backend:
        completion = answer(backend, TextRequest("hi"))
    assert completion.text == "hello world" and completion.retries == 1 and len(server.posts) == 2


@pytest.mark.parametrize("text", [None, {"content": "yes"}])
def test_a_choice_whose_text_is_not_a_string_is_asked_again(text):
    bad = {"choices": [{"index": 0, "text": text}]}
    with FakeOpenAIServer(text=lambda body: "yes", faults=[("body", bad)]) as server, backend_for(server) as backend:
        completion = answer(backend, ChoiceRequest("Is it raining? Answer yes or no:", ("yes", "no")))
    assert completion.text == "yes" and completion.retries == 1


@pytest.mark.parametrize("body", [{"choices": "hello"}, {"choices": [{"text": "hi"}], "usage": {"prompt_tokens": "x"}},
                                  [], "hello", {"choices": []}])
def test_an_answer_of_the_wrong_shape_is_a_fault_asked_again(body):
    with FakeOpenAIServer(faults=[("body", body)]) as server, backend_for(server) as backend:
        completion = answer(backend, TextRequest("hi"))
    assert completion.text == "hello world" and completion.retries == 1


def test_a_slow_server_times_out_and_is_retried():
    with FakeOpenAIServer(faults=[("sleep", 3)]) as server, backend_for(server, timeout_s=0.3) as backend:
        started = time.monotonic()
        completion = answer(backend, TextRequest("hi"))
    assert completion.retries == 1
    assert time.monotonic() - started < 2


def test_the_retry_budget_ends_in_generation_failed():
    with FakeOpenAIServer(faults=[500] * 10) as server, backend_for(server, retries=2) as backend:
        with pytest.raises(GenerationFailed) as failed:
            answer(backend, TextRequest("hi", purpose="plan"))
    assert failed.value.retries == 2
    assert "gave up on a plan request after 3 attempts: HTTP 500" in str(failed.value)
    assert len(server.posts) == 3


def test_backoff_is_exponential_and_capped():
    with FakeOpenAIServer(faults=[500] * 3) as server, \
            backend_for(server, backoff_s=0.1, max_backoff_s=0.15) as backend:
        started = time.monotonic()
        answer(backend, TextRequest("hi"))
    assert 0.1 + 0.15 + 0.15 <= time.monotonic() - started < 2  # 0.1, then 0.2 and 0.4 capped


def test_a_client_error_fails_at_once(fake):
    with backend_for(fake) as backend:
        backend.model = "other"  # the server answers 404 for a model it does not know
        with pytest.raises(GenerationFailed) as failed:
            answer(backend, TextRequest("hi"))
    assert failed.value.retries == 0 and len(fake.posts) == 1
    assert "refused a text request (HTTP 404)" in str(failed.value)


@pytest.mark.parametrize("server_options, requests, sent", [
    # Refuses both names with an error, like transformers serve: one request finds out.
    ({"reject": GUIDED}, 2, [["structured_outputs"], ["guided_choice"], [], []]),
    # Ignores both names, as vLLM does fields it does not know: each free-text answer rules one out.
    ({"honour": ()}, 3, [["structured_outputs"], ["guided_choice"], []]),
])
def test_guided_choice_the_server_lacks_is_dropped_for_parsing(server_options, requests, sent):
    with FakeOpenAIServer(text=lambda body: "Well... Yes.", **server_options) as server, \
            backend_for(server) as backend:
        completions = [answer(backend, ChoiceRequest(f"Go {n}?", ("yes", "no"))) for n in range(requests)]
    assert [(c.text, c.retries) for c in completions] == [("yes", 0)] * len(completions)
    assert completions[-1].info["guided"] is None
    assert [[key for key in GUIDED if key in post] for post in server.posts] == sent


def test_guided_choice_asked_for_by_name_is_not_given_up():
    with FakeOpenAIServer(reject=["guided_choice"]) as server, backend_for(server, guided="guided_choice") as backend:
        with pytest.raises(GenerationFailed, match=r"refused a choice request \(HTTP 400\).*guided_choice"):
            answer(backend, ChoiceRequest("Go?", ("yes", "no")))
    assert len(server.posts) == 1


def test_guided_choice_under_its_old_name_is_found():
    # Like an older vLLM: it honours guided_choice and silently ignores structured_outputs.
    with FakeOpenAIServer(honour=["guided_choice"]) as server, backend_for(server) as backend:
        first = answer(backend, ChoiceRequest("Rate it", tuple("12345"), seed=2))
        second = answer(backend, ChoiceRequest("Rate it", tuple("12345"), seed=3))
    assert (first.info["guided"], first.retries) == ("guided_choice", 1)  # "hello world" named no option
    assert (second.text, second.info["guided"], second.retries) == ("4", "guided_choice", 0)
    assert server.posts[0]["structured_outputs"] == {"choice": list("12345")}
    assert server.posts[1]["guided_choice"] == list("12345") and "structured_outputs" not in server.posts[1]


def test_new_guided_choice_is_kept_once_it_works(fake):
    with backend_for(fake) as backend:
        completions = [answer(backend, ChoiceRequest("Pick", ("a", "b", "c"), seed=seed)) for seed in range(3)]
    assert [c.text for c in completions] == ["a", "b", "c"]
    assert all(post["structured_outputs"] == {"choice": ["a", "b", "c"]} for post in fake.posts)


def test_unparsable_choices_fail_after_the_budget_with_new_seeds():
    with FakeOpenAIServer(honour=[], text=lambda body: "gibberish") as server, \
            backend_for(server, retries=3, guided="off") as backend:
        with pytest.raises(GenerationFailed) as failed:
            answer(backend, ChoiceRequest("Go?", ("yes", "no"), seed=5))
    assert failed.value.retries == 3
    assert "names none of the options" in str(failed.value)
    seeds = [post["seed"] for post in server.posts]
    assert seeds == [5] + [derive_seed(5, "resample", n) for n in (1, 2, 3)]
    assert all("structured_outputs" not in post and "guided_choice" not in post for post in server.posts)


def test_round_robin_replicas_take_turns_and_cover_for_each_other():
    with FakeOpenAIServer() as a, FakeOpenAIServer() as b, \
            backend_for(a, b, backoff_s=1, routing="round-robin") as backend:
        replicas = [answer(backend, TextRequest(f"q{n}")).info["replica"] for n in range(4)]
        assert replicas == [f"{a.url}/v1", f"{b.url}/v1"] * 2
        a.faults = [500]
        started = time.monotonic()
        completion = answer(backend, TextRequest("again"))  # a's turn: it fails, b answers at once
    assert (completion.retries, completion.info["replica"]) == (1, f"{b.url}/v1")
    assert time.monotonic() - started < 0.5


def test_concurrency_is_bounded():
    with FakeOpenAIServer(faults=[("sleep", 0.3)] * 6) as server, backend_for(server, max_concurrency=2) as backend:
        futures = [backend.submit(TextRequest(f"q{n}")) for n in range(6)]
        started = time.monotonic()
        for future in futures:
            future.result(timeout=WAIT_S)
    assert time.monotonic() - started >= 0.85  # 6 sleeps of 0.3 s, two at a time
    assert max(f.result().info["queue_wait_s"] for f in futures) >= 0.5


def test_the_api_key_is_sent_and_never_shown(monkeypatch):
    secret = "sk-test-0123456789"
    monkeypatch.setenv("AGENTVILLE_TEST_KEY", secret)
    with FakeOpenAIServer(faults=[401], text=lambda body: "ok") as server:
        with backend_for(server, api_key_env="AGENTVILLE_TEST_KEY", retries=0) as backend:
            with pytest.raises(GenerationFailed) as failed:
                answer(backend, TextRequest("hi"))
            completion = answer(backend, TextRequest("hi"))
            texts = [repr(backend), "".join(traceback.format_exception(failed.value)), str(completion)]
    assert {headers["authorization"] for headers in server.headers} == {f"Bearer {secret}"}
    assert "HTTP 401" in str(failed.value) and "[redacted]" in str(failed.value)  # the fake echoes the header
    assert all(secret not in text for text in texts)


def test_no_key_no_header(fake, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with backend_for(fake) as backend:
        answer(backend, TextRequest("hi"))
    assert "authorization" not in fake.headers[0]


def test_close_cancels_queued_work_and_wakes_retries():
    with FakeOpenAIServer(faults=[500] * 50) as server:
        backend = backend_for(server, max_concurrency=1, backoff_s=30, max_backoff_s=30)
        backing_off = backend.submit(TextRequest("first"))
        queued = backend.submit(TextRequest("second"))
        deadline = time.monotonic() + 5
        while not server.posts and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        backend.close()
        with pytest.raises(GenerationFailed, match="closed"):
            backing_off.result(timeout=5)
        assert queued.cancelled()
        assert time.monotonic() - started < 2
        with pytest.raises(GenerationFailed, match="closed"):
            backend.submit(TextRequest("late")).result(timeout=1)


def test_health_check_names_an_unreachable_server():
    port = free_port()
    with pytest.raises(BackendUnavailable) as unavailable:
        OpenAIBackend("tiny", [f"http://127.0.0.1:{port}"])
    assert str(unavailable.value) == (f"cannot reach the OpenAI-compatible server at http://127.0.0.1:{port}/v1 "
                                      "(connection refused); is it running?")


def test_health_check_names_the_served_models(fake):
    fake.models = ["a", "b"]
    with pytest.raises(BackendUnavailable) as unavailable:
        OpenAIBackend("x", [fake.url])
    assert str(unavailable.value) == f"model 'x' is not served at {fake.url}/v1; it serves: a, b"
    OpenAIBackend("x", [fake.url], check=False).close()  # check=False asks nothing


def test_health_check_covers_every_replica(fake):
    with FakeOpenAIServer(models=["other"]) as stranger:
        with pytest.raises(BackendUnavailable, match=f"not served at {stranger.url}/v1"):
            OpenAIBackend("tiny", [fake.url, stranger.url])


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="guided must be one of"):
        OpenAIBackend("tiny", ["http://127.0.0.1:9"], guided="maybe", check=False)
    with pytest.raises(ValueError, match="at least one base URL"):
        OpenAIBackend("tiny", [], check=False)


# ----- against a real transformers serve -----

@pytest.fixture(scope="session")
def served_model() -> Path:
    from tests.models import tiny_model_dir

    assert serving_available(), "transformers serve needs fastapi, uvicorn and openai (the test extras)"
    return tiny_model_dir()


@pytest.fixture(scope="module")
def server(served_model, tmp_path_factory):
    with TransformersServe(served_model, tmp_path_factory.mktemp("serve") / "serve.log") as running:
        yield running


@pytest.fixture
def real(server):
    with OpenAIBackend(server.model, [server.url], timeout_s=30, retries=2, backoff_s=0.2) as backend:
        yield backend


@pytest.mark.slow
def test_real_text_requests(real, server):
    completion = answer(real, TextRequest("The town of Smallville is", max_tokens=8, seed=1))
    assert completion.text.strip()
    assert (completion.prompt_tokens > 0, completion.output_tokens) == (True, 8)
    assert completion.info["replica"] == server.url and real.model_id == f"openai:{server.model}"
    stopped = answer(real, TextRequest("The town of Smallville is", max_tokens=8, stop=(completion.text.split()[1],)))
    assert completion.text.split()[1] not in stopped.text


@pytest.mark.slow
def test_real_choice_requests_always_give_an_option(real):
    # The tiny model is random and decodes greedily: build options from words it is sure to say.
    prompt = "Ann wakes up and"
    words = answer(real, TextRequest(prompt, max_tokens=8)).text.split()
    picked = answer(real, ChoiceRequest(prompt, ("absent-option", words[1], words[0])))
    assert picked.text == words[0]  # the earliest option mentioned
    assert picked.info["guided"] is None  # transformers serve refuses both guided parameters (HTTP 422)
    for seed in range(2):
        request = ChoiceRequest(prompt + " then", ("yes", "no", words[2]), seed=seed)
        try:
            assert answer(real, request).text in request.options
        except GenerationFailed as failed:
            assert "names none of the options" in str(failed)


@pytest.mark.slow
def test_real_concurrent_requests(server):
    with OpenAIBackend(server.model, [server.url], max_concurrency=8, timeout_s=30) as backend:
        futures = [backend.submit(TextRequest(f"Question {n}:", max_tokens=4, seed=n)) for n in range(16)]
        done, pending = concurrent.futures.wait(futures, timeout=60)
    assert not pending
    assert all(future.result().output_tokens == 4 for future in done)


@pytest.mark.slow
def test_real_health_check_names_the_served_model(server):
    with pytest.raises(BackendUnavailable) as unavailable:
        OpenAIBackend("gemma", [server.url])
    assert str(unavailable.value) == f"model 'gemma' is not served at {server.url}; it serves: {server.model}"


@pytest.mark.slow
def test_real_server_killed_and_restarted(server):
    """Requests in flight when the server dies, and those sent while it is down, complete after a restart."""
    with CountingProxy(server.port) as proxy, \
            OpenAIBackend(server.model, [proxy.url], max_concurrency=8, timeout_s=30, retries=60,
                          backoff_s=0.25, max_backoff_s=2) as backend:  # retries outlast a slow restart
        in_flight = [backend.submit(TextRequest(f"Long story {n}:", max_tokens=400)) for n in range(3)]
        proxy.wait_for_posts(3)  # in the server's hands; 400 tokens take the warm tiny model over a second
        assert not any(future.done() for future in in_flight), [f.exception() or f.result() for f in in_flight
                                                                if f.done()]
        server.kill()
        while_down = [backend.submit(TextRequest(f"Short {n}:", max_tokens=4)) for n in range(3)]
        server.start()  # the same port; the module fixture kills it at teardown
        done, pending = concurrent.futures.wait(in_flight + while_down, timeout=60)
    assert not pending
    completions = [future.result() for future in in_flight + while_down]
    assert all(completion.retries >= 1 for completion in completions)
    assert [c.output_tokens for c in completions] == [400] * 3 + [4] * 3


@pytest.mark.parametrize("status, cut", [(400, 300), (200, 80)])
def test_a_key_straddling_where_a_message_is_cut_is_redacted_whole(monkeypatch, status, cut):
    """Error bodies were cut before redaction, so a key across the cut survived in part (issue 13, item 8)."""
    secret = "sk-test-0123456789abcdefghij"
    monkeypatch.setenv("AGENTVILLE_TEST_KEY", secret)
    padding = cut - len("you sent: Bearer sk-test-01")  # the cut falls inside the key
    with FakeOpenAIServer(faults=[("echo", status, padding)]) as server:
        with backend_for(server, api_key_env="AGENTVILLE_TEST_KEY", retries=0) as backend:
            with pytest.raises(GenerationFailed) as failed:
                answer(backend, TextRequest("hi"))
    message = str(failed.value)
    assert "sk-test" not in message and "0123" not in message
    assert "[redacted]" in message or message.rstrip("'").endswith("Bearer [red")


def test_bearer_tokens_that_are_not_our_key_are_redacted_too():
    assert redact("proxy saw Authorization: Bearer abc.def-123 and sk-live-XYZ0123456789", None) == \
        "proxy saw Authorization: Bearer [redacted] and [redacted]"


# ----- hung requests and abandoned work (issue 13, items 5 and 6) -----

def test_the_service_waits_out_the_backends_retries_of_a_hung_request():
    import simpy

    from agentville.sim.generation import GenerationService

    with FakeOpenAIServer(faults=[("sleep", 3)]) as server, backend_for(server, timeout_s=0.5) as backend:
        env = simpy.Environment()
        service = GenerationService(backend, env, run_seed=1, wait_timeout_s=0.5)  # the scenario's timeout_s
        logged = []
        service.on_call = lambda request, completion, wall, asked, due: logged.append((completion, wall))
        answer = service.text("hi", purpose="plan", default="the fallback")
        env.run()
    assert answer.value == "hello world"  # the retry answered: no fallback
    completion, wall = logged[0]
    assert not completion.fallback and wall["retries"] == 1
    assert service.wait_timeout_s >= backend.patience_s


def test_patience_counts_every_attempt_and_the_waits_between_rounds():
    backend = OpenAIBackend("tiny", ["http://127.0.0.1:9", "http://127.0.0.1:10"], check=False, timeout_s=2,
                            retries=4, backoff_s=0.5, max_backoff_s=0.75)
    backend.close()
    assert backend.patience_s == 5 * 2 + 0.5 + 0.75  # two rounds of two replicas end before attempts 3 and 5


def test_an_abandoned_request_is_not_sent_or_retried_any_more():
    with FakeOpenAIServer(faults=[500] * 50) as server, \
            backend_for(server, max_concurrency=1, backoff_s=0.2, max_backoff_s=0.2) as backend:
        retrying = backend.submit(TextRequest("first"))
        queued = backend.submit(TextRequest("second"))
        assert queued.cancel()  # given up on while it waits for a worker
        deadline = time.monotonic() + 5
        while len(server.posts) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert retrying.cancel()  # given up on between attempts
        sent = len(server.posts)
        time.sleep(1.0)
        assert len(server.posts) <= sent + 1  # at most the attempt on the wire when it was abandoned
        assert [post["prompt"] for post in server.posts] == ["first"] * len(server.posts)


def test_an_unreachable_replica_is_dropped_at_start_and_the_run_goes_on(fake, caplog):
    dead = f"http://127.0.0.1:{free_port()}"
    with caplog.at_level("WARNING"), backend_for(fake, dead_url=dead) as backend:
        assert backend.base_urls == [f"{fake.url}/v1"]
        assert answer(backend, TextRequest("hi")).text == "hello world"
    assert f"cannot reach the OpenAI-compatible server at {dead}/v1 (connection refused); going on with 1 of 2" \
        in caplog.text


def test_every_replica_down_is_one_line_naming_each():
    ports = [free_port(), free_port()]
    with pytest.raises(BackendUnavailable) as unavailable:
        OpenAIBackend("tiny", [f"http://127.0.0.1:{port}" for port in ports])
    message = str(unavailable.value)
    assert "\n" not in message and message.endswith("are they running?")
    assert all(f"127.0.0.1:{port}/v1 (connection refused)" in message for port in ports)


def test_replicas_gone_mid_run_fall_back_saying_connection_refused():
    import simpy

    from agentville.sim.generation import GenerationService

    with OpenAIBackend("tiny", [f"http://127.0.0.1:{free_port()}"], check=False, retries=2, backoff_s=0.3,
                       timeout_s=5) as backend:  # it was up at the start, then went away
        env = simpy.Environment()
        service = GenerationService(backend, env, run_seed=1, wait_timeout_s=0.2)
        logged = []
        service.on_call = lambda request, completion, wall, asked, due: logged.append(wall)
        answer_ = service.text("hi", purpose="plan", default="the fallback")
        env.run()
    assert answer_.value == "the fallback"
    assert "after 3 attempts: connection refused" in logged[0]["error"]
