"""Choices are asked the same way of every backend, read robustly from free text, and logged with what was said."""

from __future__ import annotations

import ast
import datetime as dt
import itertools
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from agentville.agents.llm.templates import PROMPTS, render, template
from agentville.agents.memory.stream import importance_prompt
from agentville.sim.generation import ChoiceRequest, Completion, FakeBackend, HashEmbedder
from agentville.sim.generation.cache import LLMCache
from agentville.sim.generation.choices import GUIDED_PARAMS, guided_answer, guided_fields, parse_choice
from agentville.sim.generation.openai_backend import OpenAIBackend
from agentville.sim.generation.requests import GenerationFailed, Request, TextRequest
from agentville.sim.generation.transformers_backend import TransformersBackend
from agentville.sim.runtime.runner import assemble
from agentville.sim.store.eventstore import EventStore
from tests.servers import CONSTRAINTS, FakeOpenAIServer, _guided_options

WAIT_S = 20
RATING = tuple(str(n) for n in range(1, 11))
YES_NO = ("yes", "no")
REACTION = ("talk", "wait", "carry on")
PLACES = ("Hobbs Cafe", "The Rose and Crown Pub", "Isabella's apartment", "Klaus's apartment", "Oak Hill College")
HOURS = tuple(str(h) for h in range(5, 12))


# ----- one prompt text for every backend -----

def test_no_agent_module_fills_a_template_its_own_way():
    """Every prompt goes through ``render`` (which strips trailing whitespace): no module reads templates itself."""
    agents = Path(__file__).resolve().parent.parent / "agents"
    for path in agents.glob("*.py"):
        if path.name == "templates.py":
            continue
        calls = [node.func.id for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]
        assert "template" not in calls, f"{path.name} fills a template without render"


@pytest.mark.parametrize("name", sorted(path.stem for path in PROMPTS.glob("*.txt")))
def test_every_rendered_prompt_ends_without_whitespace(name):
    fields = {key: "x" for key in _placeholders(template(name))}
    assert not render(name, **fields)[-1].isspace()


def _placeholders(text: str) -> set[str]:
    import string

    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def test_the_importance_prompt_ends_at_the_rating():
    prompt = importance_prompt("Ann, a cheerful cafe owner", "got engaged")
    assert prompt.endswith("Memory: got engaged\nRating:")


class _Relay:
    """Hands every request to ``send`` (a backend's own door), then answers as the fake backend would.

    Runs relayed to different backends thus ask exactly the same questions, so
    the prompts each backend was given can be compared one for one.
    """

    model_id = "fake"

    def __init__(self, send):
        self.send, self.fake, self.prompts, self.kinds = send, FakeBackend(), [], set()

    def submit(self, request: Request):
        self.prompts.append(request.prompt)
        self.kinds.add(type(request).__name__)
        self.send(request)
        return self.fake.submit(request)

    def close(self) -> None:
        pass


def _in_process_stub() -> tuple[Callable[[Request], None], list[str]]:
    """The in-process backend's real ``submit``, without a model: what its worker would be handed is recorded."""
    stub = object.__new__(TransformersBackend)
    stub._closed, stub._jobs, stub._seq = threading.Event(), queue.Queue(), itertools.count()
    seen: list[str] = []

    def send(request: Request) -> None:
        TransformersBackend.submit(stub, request)
        seen.append(stub._jobs.get_nowait().request.prompt)

    return send, seen


def _relayed_run(tiny, tmp_path: Path, name: str, send) -> list[str]:
    relay = _Relay(send)
    store = EventStore(tmp_path / f"{name}.db")
    sim = assemble(tiny, store=store, backend=relay, embedder=HashEmbedder())
    assert sim.run(tiny.start + dt.timedelta(hours=2)).status == "finished"
    assert relay.kinds == {"ChoiceRequest", "TextRequest"}
    return relay.prompts


def test_every_backend_is_sent_the_same_prompt_text(tiny, tmp_path):
    fake = FakeBackend()
    given_fake = _relayed_run(tiny, tmp_path, "fake", fake.answer)
    in_process, worker_saw = _in_process_stub()
    given_in_process = _relayed_run(tiny, tmp_path, "in_process", in_process)
    with FakeOpenAIServer() as server, OpenAIBackend("tiny", server.url, retries=0) as backend:
        given_openai = _relayed_run(tiny, tmp_path, "openai",
                                    lambda request: backend.submit(request).result(timeout=WAIT_S))
        on_the_wire = [post["prompt"] for post in server.posts]
    importance = [p for p in given_fake if p.endswith("Rating:")]
    assert importance and len(given_fake) > 10
    assert given_fake == given_in_process == worker_saw == given_openai == on_the_wire


# ----- raw text behind every choice -----

def test_a_runs_choice_calls_carry_what_the_model_said(tiny, tmp_path):
    store = EventStore(tmp_path / "raw.db")
    summary = assemble(tiny, store=store, backend=FakeBackend()).run(tiny.start + dt.timedelta(hours=2))
    calls = [e.data for e in store.iter_events(summary.run_id, kinds=["llm_call"])]
    choices = [c for c in calls if c["request"] == "ChoiceRequest"]
    assert choices and all(c["raw"] == c["output"] for c in choices)
    assert all("raw" not in c for c in calls if c["request"] == "TextRequest")


def test_raw_text_is_cached_with_the_answer(tmp_path):
    cache = LLMCache(EventStore(tmp_path / "c.db").db)
    request = ChoiceRequest("Rate it", RATING, seed=1)
    cache.put("m", request, Completion("7", 4, 6, raw="I'd say 7, because"))
    assert cache.get("m", request).raw == "I'd say 7, because"
    cache.put("m", TextRequest("old"), Completion("an entry from before raw was kept"))
    assert cache.get("m", TextRequest("old")).raw is None


def _rating_server_text(body: dict) -> str:
    return "I'd say 7, because it matters to her.\nPerson: a student" if body["prompt"].endswith("Rating:") \
        else "hello world"


def test_a_free_text_rating_over_http_is_logged_with_what_the_model_said(tiny, tmp_path):
    store = EventStore(tmp_path / "http.db")
    with FakeOpenAIServer(text=_rating_server_text, strict=True) as server, \
            OpenAIBackend("tiny", server.url, retries=1, backoff_s=0.01) as backend:
        summary = assemble(tiny, store=store, backend=backend, embedder=HashEmbedder(),
                           cognition={"importance": "model"}).run(tiny.start + dt.timedelta(hours=1))
    ratings = [e.data for e in store.iter_events(summary.run_id, kinds=["llm_call"])
               if e.data["purpose"] == "importance"]
    assert ratings and all(not r["fallback"] for r in ratings)
    assert {(r["output"], r["raw"]) for r in ratings} == {("7", _rating_server_text({"prompt": "Rating:"}))}


# ----- reading an option out of free text -----

@pytest.mark.parametrize("text, options, expected", [
    # ratings
    ("7", RATING, "7"), (" 7\n", RATING, "7"), ("7/10", RATING, "7"), ("10/10", RATING, "10"),
    ("10", RATING, "10"), ("1", RATING, "1"), ("Rating: 8", RATING, "8"), ("**9**", RATING, "9"),
    ("I'd say 7, because it matters", RATING, "7"), ("7 out of 10", RATING, "7"), ("10 out of 10", RATING, "10"),
    ("On a scale of 1 to 10, this is a 3.", RATING, "3"), ("Out of 10, I'd say 4", RATING, "4"),
    ("1-10: 6", RATING, "6"), ("between 1 and 10, a 5", RATING, "5"), ("7-8", RATING, "7"),
    ("7.5", RATING, "8"), ("7.4", RATING, "7"), ("eight", RATING, "8"), ("This one is an eight.", RATING, "8"),
    ("One.", RATING, "1"), ("I'd say 7, not 10", RATING, "7"), ("not 10, but 2", RATING, "2"),
    ("7 or 8", RATING, None), ("15", RATING, None), ("very important", RATING, None),
    # yes or no
    ("Yes.", YES_NO, "yes"), ("**No**", YES_NO, "no"), ("Answer: yes", YES_NO, "yes"), ("YES!", YES_NO, "yes"),
    ('"no"', YES_NO, "no"), ("\u201cYes\u201d", YES_NO, "yes"), ("I think No.", YES_NO, "no"),
    ("Not really, no.", YES_NO, "no"), ("not sure, maybe yes", YES_NO, "yes"), ("Nope.", YES_NO, "no"),
    ("Yeah, they said goodbye", YES_NO, "yes"), ("Yes or no? Yes.", YES_NO, "yes"),
    ("I'm not sure", YES_NO, None), ("Definitely not.", YES_NO, None),
    ("I don't know", YES_NO, None), ("Nothing more to say", YES_NO, None), ("yes or no", YES_NO, None),
    ("Yes and no", YES_NO, None), ("yes/no", YES_NO, None), ("", YES_NO, None), ("gibberish", YES_NO, None),
    # reactions: verbs, inflected, negated
    ("Carry on.", REACTION, "carry on"), ('"talk"', REACTION, "talk"), ("He would talk to her.", REACTION, "talk"),
    ("Klaus waits for Maria.", REACTION, "wait"), ("Talking to Maria", REACTION, "talk"),
    ("carries on", REACTION, "carry on"), ("Klaus does not talk to Maria; he carries on", REACTION, "carry on"),
    ("doesn't want to wait, so talk", REACTION, "talk"), ("talk, wait or carry on", REACTION, None),
    ("start a conversation", REACTION, None),
    # places: case, punctuation, possessives, an unambiguous part of a name
    ("Hobbs Cafe", PLACES, "Hobbs Cafe"), ("hobbs cafe.", PLACES, "Hobbs Cafe"), ("the cafe", PLACES, "Hobbs Cafe"),
    ("The pub", PLACES, "The Rose and Crown Pub"), ("the Rose and Crown", PLACES, "The Rose and Crown Pub"),
    ("Isabella's apartment", PLACES, "Isabella's apartment"), ("her apartment", PLACES, None),
    ("Isabella would go to the cafe", PLACES, None),
    ("Cafe: hall: counter, then the park", ("Cafe", "Cafe: hall: counter", "Park"), "Cafe: hall: counter"),
    # hours
    ("at 7:30", HOURS, "7"), ("7am", HOURS, "7"), ("07:00", HOURS, "7"), ("Answer (an hour from 5 to 11): 6", HOURS, "6"),
])
def test_parse_choice_reads_small_model_answers(text, options, expected):
    assert parse_choice(text, options) == expected


# ----- constrained decoding, learnt from the server -----

TRICKY = ('say "hi"', "a|b", "(x)", "back\\slash", "7.5")


@pytest.mark.parametrize("param", GUIDED_PARAMS)
def test_each_constraint_names_the_options_the_way_its_server_reads_them(param):
    assert CONSTRAINTS == GUIDED_PARAMS  # the fake server knows every field the backend may send
    fields = guided_fields(param, TRICKY)
    assert _guided_options(fields, param) == list(TRICKY)
    if param == "grammar":
        assert fields["grammar"].startswith("root ::= ")


def test_a_json_schema_answer_is_exactly_an_option():
    assert guided_answer("response_format", '"carry on"', REACTION) == "carry on"
    assert guided_answer("response_format", '"sleep"', REACTION) is None
    assert guided_answer(None, '"carry on"', REACTION) is None
    assert guided_answer("grammar", " wait ", REACTION) == "wait"


@pytest.mark.parametrize("server, learnt", [
    ({"honour": ["structured_outputs"]}, "structured_outputs"),  # vLLM
    ({"honour": ["guided_choice"]}, "guided_choice"),  # an older vLLM
    ({"honour": ["grammar"]}, "grammar"),  # llama.cpp server
    ({"honour": ["regex"]}, "regex"),  # SGLang
    ({"honour": ["response_format"]}, "response_format"),  # a server that takes an OpenAI JSON schema
    ({"honour": ["grammar"], "reject": ["structured_outputs", "guided_choice"]}, "grammar"),  # rejects, not ignores
    ({"honour": [], "strict": True}, None),  # transformers serve: HTTP 422 to every field it does not know
    ({"honour": []}, None),  # ignores them all
])
def test_the_constraint_a_server_offers_is_learnt_and_kept(server, learnt):
    with FakeOpenAIServer(text=lambda body: "Well... I'd carry on.", **server) as fake, \
            OpenAIBackend("tiny", fake.url, retries=2, backoff_s=0.01) as backend:
        answers = [backend.submit(ChoiceRequest(f"Then? {n}", REACTION, seed=n)).result(timeout=WAIT_S)
                   for n in range(len(GUIDED_PARAMS) + 2)]
        sent = [[key for key in CONSTRAINTS if key in post] for post in fake.posts]
    assert all(a.text in REACTION and a.raw is not None and not a.fallback for a in answers)
    last = answers[-1]
    assert last.info["guided"] == learnt and sent[-1] == ([learnt] if learnt else [])
    tried = [keys[0] for keys in sent if keys]
    if learnt:
        found = GUIDED_PARAMS.index(learnt)
        assert tried[:found] == list(GUIDED_PARAMS[:found]) and set(tried[found:]) == {learnt}  # in order, then kept
        assert last.raw == (f'"{last.text}"' if learnt == "response_format" else last.text)
    else:
        assert tried == list(GUIDED_PARAMS)  # each tried once, then dropped for parsing
        assert (last.text, last.raw) == ("carry on", "Well... I'd carry on.")


def test_a_free_text_choice_keeps_the_servers_words_as_raw():
    text = "I'd say 7, because it matters.\n\nPerson: a student"
    with FakeOpenAIServer(text=lambda body: text, honour=[]) as fake, \
            OpenAIBackend("tiny", fake.url, guided="off") as backend:
        completion = backend.submit(ChoiceRequest("Rating:", RATING, seed=3)).result(timeout=WAIT_S)
    assert (completion.text, completion.raw, completion.info["guided"]) == ("7", text, None)


def test_a_choice_given_up_on_keeps_the_last_thing_the_model_said():
    said = iter(["gibberish", "still nothing", "  \n"])
    with FakeOpenAIServer(text=lambda body: next(said), honour=[]) as fake, \
            OpenAIBackend("tiny", fake.url, guided="off", retries=2) as backend:
        with pytest.raises(GenerationFailed) as failed:
            backend.submit(ChoiceRequest("Go?", YES_NO)).result(timeout=WAIT_S)
    assert failed.value.raw == "still nothing"  # an empty answer says nothing
