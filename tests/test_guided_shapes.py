"""Shapes from servers: which field makes a server write an answer matching a regex, learnt from its answers."""

from __future__ import annotations

import json
import re

import pytest

from agentville.agents.llm import shapes
from agentville.sim.generation.guided_shapes import SHAPE_PARAMS, shape_fields, shaped_answer
from agentville.sim.generation.openai_backend import OpenAIBackend
from agentville.sim.generation.requests import ChoiceRequest, TextRequest
from tests.servers import FakeOpenAIServer

SHAPE = shapes.day_plan(160)
SHAPED = " waking up early\n2. opening the shop\n3. walking home"
FREE = "I will do many things today."


def backend_for(server: FakeOpenAIServer, **options) -> OpenAIBackend:
    return OpenAIBackend("tiny", [server.url], **({"retries": 2, "backoff_s": 0.01, "timeout_s": 5} | options))


def plan(seed: int = 0) -> TextRequest:
    return TextRequest("Ann's plan for today:\n1.", max_tokens=160, seed=seed, shape=SHAPE)


def honouring(field: str):
    """A server's answers: the shaped one when a request carries ``field``, free text otherwise."""
    def text(body):
        if field not in body:
            return FREE
        return json.dumps(SHAPED) if field == "response_format" else SHAPED
    return text


def sent(post) -> list[str]:
    return [param for param in SHAPE_PARAMS if param in post]


def test_the_examples_match_their_shape():
    assert re.fullmatch(SHAPE, SHAPED) and not re.fullmatch(SHAPE, FREE)


@pytest.mark.parametrize("field", SHAPE_PARAMS)
def test_a_server_that_honours_a_field_is_found_and_kept(field):
    with FakeOpenAIServer(text=honouring(field)) as server, backend_for(server) as backend:
        answers = [backend.submit(plan(seed)).result(timeout=20) for seed in range(len(SHAPE_PARAMS) + 2)]
    tried = SHAPE_PARAMS[: SHAPE_PARAMS.index(field) + 1]
    assert [sent(post) for post in server.posts] == [[p] for p in tried] + [[field]] * (len(answers) - len(tried))
    assert [a.text for a in answers] == [FREE] * (len(tried) - 1) + [SHAPED] * (len(answers) - len(tried) + 1)


def test_fields_a_server_ignores_are_dropped_then_text_is_asked_for_free():
    with FakeOpenAIServer(text=lambda body: FREE) as server, backend_for(server) as backend:
        answers = [backend.submit(plan(seed)).result(timeout=20) for seed in range(6)]
    assert [sent(post) for post in server.posts] == [[p] for p in SHAPE_PARAMS] + [[], []]
    assert {a.text for a in answers} == {FREE}  # parsed by the asker, as any free text


def test_a_field_rejected_by_name_is_dropped_within_the_same_attempt():
    with FakeOpenAIServer(text=honouring("guided_regex"), reject=["structured_outputs"]) as server, \
            backend_for(server) as backend:
        first = backend.submit(plan(1)).result(timeout=20)
        second = backend.submit(plan(2)).result(timeout=20)
    assert (first.text, first.retries, second.text) == (SHAPED, 0, SHAPED)
    assert [sent(post) for post in server.posts] == [["structured_outputs"], ["guided_regex"], ["guided_regex"]]


def test_an_answer_cut_at_the_token_limit_rules_nothing_out():
    cut = {"choices": [{"index": 0, "text": " waking up\n2. open", "finish_reason": "length"}], "usage": {}}
    with FakeOpenAIServer(text=honouring("structured_outputs"), faults=[("body", cut)]) as server, \
            backend_for(server) as backend:
        first = backend.submit(plan(1)).result(timeout=20)
        second = backend.submit(plan(2)).result(timeout=20)
    assert (first.text, second.text) == (" waking up\n2. open", SHAPED)
    assert [sent(post) for post in server.posts] == [["structured_outputs"]] * 2


def test_choices_are_learnt_apart_from_shapes():
    """A server may take a list of options and not a regex (the fake honours structured_outputs choices)."""
    with FakeOpenAIServer(text=lambda body: FREE) as server, backend_for(server) as backend:
        for seed in range(len(SHAPE_PARAMS)):
            backend.submit(plan(seed)).result(timeout=20)
        choice = backend.submit(ChoiceRequest("Go?", ("yes", "no"))).result(timeout=20)
    assert server.posts[-1]["structured_outputs"] == {"choice": ["yes", "no"]}
    assert choice.info["guided"] == "structured_outputs"


def test_no_field_is_sent_when_guidance_is_off():
    with FakeOpenAIServer(text=honouring("structured_outputs")) as server, backend_for(server, guided="off") as b:
        answer = b.submit(plan()).result(timeout=20)
    assert answer.text == FREE and sent(server.posts[0]) == []


@pytest.mark.parametrize("param, text, expected", [
    ("structured_outputs", SHAPED, SHAPED),
    ("regex", FREE, None),
    ("response_format", json.dumps(SHAPED), SHAPED),
    ("response_format", '" waking up\n2. opening\n3. walking"', " waking up\n2. opening\n3. walking"),  # a raw break
    ("response_format", SHAPED, None),  # not JSON
    ("response_format", json.dumps(FREE), None),
])
def test_a_shaped_answer_is_read_as_the_field_writes_it(param, text, expected):
    assert shaped_answer(param, text, SHAPE) == expected


def test_the_json_schema_pattern_is_the_whole_shape():
    schema = shape_fields("response_format", SHAPE)["response_format"]["json_schema"]["schema"]
    assert schema["type"] == "string"
    assert re.fullmatch(schema["pattern"], SHAPED) and not re.fullmatch(schema["pattern"], SHAPED + "\n4.")
    assert shape_fields(None, SHAPE) == {}
