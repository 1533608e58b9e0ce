"""Answers in a shape: the regexes of list answers, generation under them in-process, and the cache key.

The random-weight model writes garbage, so an answer of it that parses every
time, for many seeds, shows the shape (not the model) doing the work.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import asdict

import pytest

from agentville.agents.llm import shapes
from agentville.agents.memory import reflection
from agentville.agents.planning import schedule
from agentville.agents.planning.days import DAY_PLAN_TOKENS
from agentville.agents.planning.revision import read_revision
from agentville.sim.generation.grammar import Grammars, token_bytes
from agentville.sim.generation.requests import ChoiceRequest, GenerationFailed, TextRequest, request_key

SEEDS = range(10)


def key_before_shapes(model: str, request) -> str:
    """``request_key`` as it was before requests had a shape (the answers cached then must still be found)."""
    fields = asdict(request)
    for label in ("purpose", "agent", "default", "shape"):
        fields.pop(label, None)
    fields["kind"] = type(request).__name__
    fields["model"] = model
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@pytest.mark.parametrize("request_", [
    TextRequest("Plan the day:\n1."),
    TextRequest("Sam's schedule:\n07:00 waking up", max_tokens=240, stop=("\n\n",), temperature=0.0, seed=9),
    TextRequest("Insights:\n1.", purpose="reflection_insights", agent="Ann", default=" (nothing new)"),
    ChoiceRequest("Go?", ("yes", "no"), seed=3),
])
def test_a_request_without_a_shape_keeps_its_key(request_):
    assert request_key("m", request_) == key_before_shapes("m", request_)


def test_a_shape_is_part_of_the_key():
    plain = TextRequest("Plan the day:\n1.", seed=4)
    keys = {request_key("m", plain)} | {request_key("m", TextRequest("Plan the day:\n1.", seed=4, shape=s))
                                         for s in (shapes.day_plan(160), shapes.questions(72), "a|b")}
    assert len(keys) == 4


# -- the shapes themselves -------------------------------------------------------
def longest_needed(name: str, max_tokens: int) -> str:
    """The longest answer holding just what the parser needs (each item as long as its shape lets it be)."""
    def item(chars):
        return "x" * chars
    if name == "day_plan":
        chars = (max_tokens - 9) // 3
        return " " + item(chars) + "\n2. " + item(chars) + "\n3. " + item(chars)
    if name == "steps":
        return " " + item(min(60, max_tokens - 14)) + " (15 minutes)"
    if name == "questions":
        return " " + ("Whatwhywhere" + " ") * 3 + item(max_tokens - 1 - 39)
    if name == "insights":
        return " " + ("Whatwhywhere" + " ") * 3 + item(100 - 39) + " (because of 8, 8, 8, 8, 8)"
    if name == "revision":
        return " " + item(60)
    return "\n23:59 " + item(60)


SHAPES = {"day_plan": lambda n: shapes.day_plan(n), "steps": lambda n: shapes.steps(n),
          "questions": lambda n: shapes.questions(n), "insights": lambda n: shapes.insights(8, n),
          "revision": lambda n: shapes.revision(n), "schedule": lambda n: shapes.schedule(n, "07:00")}


@pytest.mark.parametrize("name, max_tokens", [("day_plan", DAY_PLAN_TOKENS), ("day_plan", 100), ("steps", 128),
                                              ("questions", 72), ("questions", 60), ("insights", 160),
                                              ("revision", 150), ("schedule", 240)])
def test_what_a_parser_needs_fits_the_token_limit(name, max_tokens):
    """Every character is one byte and a token at least one: the needed part is complete within the limit."""
    shape = SHAPES[name](max_tokens)
    longest = longest_needed(name, max_tokens)
    assert len(longest) <= max_tokens
    assert re.fullmatch(shape, longest)
    assert not re.fullmatch(shape, longest.replace("x", "xx", 1))  # an item one character longer is refused


@pytest.mark.parametrize("clock", ["07:00", "06:45", "13:20", "17:59", "18:00", "22:30", "23:59", "00:00"])
def test_the_first_schedule_line_is_one_the_parser_keeps(clock):
    after = int(clock[:2]) * 3600 + int(clock[3:]) * 60
    allowed = re.compile(shapes.later_than(clock))
    kept = 0
    for minute in range(0, 1440, 7):
        time = f"{minute // 60:02d}:{minute % 60:02d}"
        if allowed.fullmatch(time):
            kept += 1
            entries = schedule.parse_schedule(f"{clock} waking up\n{time} reading", 0, after, minimum=2)
            assert entries[1][1] == "reading"
    assert kept > 0


def test_insights_cite_only_the_statements_there_are():
    shape = shapes.insights(3, 160)
    assert re.fullmatch(shape, " Ann likes the fair (because of 1, 3)")
    assert not re.fullmatch(shape, " Ann likes the fair (because of 4)")
    assert not re.fullmatch(shape, " Ann likes (because of 1)")  # two words are not an insight
    assert not re.fullmatch(shapes.insights(3, 160), " (nothing new)")


# -- generating under a shape, in-process --------------------------------------------
@pytest.fixture(scope="module")
def tiny():
    from agentville.sim.generation.transformers_backend import TransformersBackend

    backend = TransformersBackend("random:tiny", device="cpu")
    yield backend
    backend.close()


def revision_of(text: str):
    return read_revision(text, 14 * 3600 + 600, 14 * 60 + 10, 14 * 3600 + 600, 16 * 3600, 23 * 3600)


# purpose: (shape, max_tokens, what the prompt ends with, joiner, parser), as the agents ask
PURPOSES = {
    "day_plan": (shapes.day_plan(DAY_PLAN_TOKENS), DAY_PLAN_TOKENS, "1.", "", schedule.parse_strokes),
    "schedule": (shapes.schedule(240, "07:00"), 240, "07:00 waking up", "\n",
                 functools.partial(schedule.parse_schedule, midnight=0, after=7 * 3600)),
    "decompose": (shapes.steps(128), 128, "-", "", schedule.parse_steps),
    "revise_schedule": (shapes.revision(150), 150, "14:10", " ", revision_of),
    "reflection_questions": (shapes.questions(72), 72, "1.", "", reflection.parse_questions),
    "reflection_insights": (shapes.insights(4, 160), 160, "1.", "",
                            functools.partial(reflection.parse_insights, statements=4)),
}


@pytest.mark.parametrize("purpose", PURPOSES)
def test_the_random_model_answers_every_shape_in_a_form_that_parses(tiny, purpose):
    shape, max_tokens, prefix, joiner, parse = PURPOSES[purpose]
    requests = [TextRequest(f"Anything at all {seed}\n{prefix}", max_tokens=max_tokens, stop=("\n\n",), seed=seed,
                            temperature=1.0, shape=shape) for seed in SEEDS]
    answers = [future.result(timeout=120).text for future in [tiny.submit(r) for r in requests]]
    for text in answers:
        assert re.fullmatch(shape, text) or re.fullmatch(shape, (joiner or " ") + text), text
        assert parse(prefix + joiner + text if joiner else prefix + text)
    assert len(set(answers)) == len(answers)  # each seed its own answer: the model samples, the shape only bounds


def test_an_unshaped_answer_is_the_same_beside_shaped_ones(tiny):
    plain = [TextRequest(f"Tell me about the town {n}.", max_tokens=24, seed=n) for n in range(3)]
    alone = [tiny.submit(r).result(timeout=120).text for r in plain]
    shaped = [TextRequest("List:\n1.", max_tokens=60, seed=n, shape=shapes.day_plan(60)) for n in range(3)]
    futures = [tiny.submit(r) for pair in zip(plain, shaped) for r in pair]
    together = [f.result(timeout=120).text for f in futures]
    assert together[0::2] == alone
    assert all(re.fullmatch(shapes.day_plan(60), " " + t) for t in together[1::2])


def test_a_shape_the_tokenizer_cannot_write_ends_the_answer_early(tiny):
    """No token of the WordPiece vocabulary writes a tab: the row stops where the shape needs one."""
    answer = tiny.submit(TextRequest("x", max_tokens=30, seed=1, shape="abc\tdef")).result(timeout=60)
    assert answer.text == "abc"


@pytest.mark.parametrize("bad", ["(unclosed", "a{3,1}"])
def test_a_broken_shape_fails_its_request_with_a_reason(tiny, bad):
    with pytest.raises(GenerationFailed, match="shape"):
        tiny.submit(TextRequest("x", max_tokens=8, shape=bad)).result(timeout=60)


# -- reading a vocabulary's bytes ------------------------------------------------------
def test_wordpiece_tokens_read_without_their_markers_and_with_two_white_space_tokens():
    from agentville.sim.generation.random_weights import random_tokenizer

    tokenizer = random_tokenizer()
    table = token_bytes(tokenizer)
    assert table is not None
    ids = tokenizer.convert_tokens_to_ids(["[unused0]", "[unused1]", "walk", "##ing", "7"])
    assert [table[i] for i in ids] == [b" ", b"\n", b"walk", b"ing", b"7"]


def test_byte_level_tokens_read_as_llguidance_reads_them():
    import llguidance.hf
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(["Ann opens the café at 07:00.\nTom walks home.\n\n"] * 20, vocab_size=300,
                                special_tokens=["<eos>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=trainer._tokenizer, eos_token="<eos>")
    table = token_bytes(tokenizer)
    reference = llguidance.hf.from_tokenizer(tokenizer)
    assert table is not None and len(table) == len(tokenizer)
    ordinary = [i for i in range(len(table)) if not reference.is_special_token(i)]
    assert len(ordinary) > 256
    assert [table[i] for i in ordinary] == [reference.decode_bytes([i]) for i in ordinary]


def test_sentencepiece_tokens_with_byte_fallback_read_as_llguidance_reads_them():
    """Gemma's kind of vocabulary: ``▁`` for a space, ``<0x0A>`` for a byte no piece covers."""
    import llguidance.hf
    from tokenizers import Tokenizer, decoders, models, normalizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<eos>": 1} | {f"<0x{b:02X}>": 2 + b for b in range(256)}
    vocab |= {piece: 258 + i for i, piece in enumerate(["▁", "a", "b", "▁a", "ab", "▁ab", "é"])}
    backend = Tokenizer(models.BPE(vocab, [("▁", "a"), ("a", "b"), ("▁a", "b")], byte_fallback=True))
    backend.normalizer = normalizers.Replace(" ", "▁")
    backend.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<eos>", pad_token="<pad>")
    tokenizer.add_tokens(["\n", "<table>"])  # as Gemma adds line breaks and markup: one is text, one never written
    table = token_bytes(tokenizer)
    reference = llguidance.hf.from_tokenizer(tokenizer)
    ordinary = [i for i in range(len(table)) if not reference.is_special_token(i)]  # (llguidance's own marker,
    assert table is not None and len(ordinary) == len(table) - 4  # byte 0xFF, makes <0xFF> special there too)
    assert [table[i] for i in ordinary] == [reference.decode_bytes([i]) for i in ordinary]
    assert table[2 + 10] == b"\n" and table[vocab["▁ab"]] == b" ab" and table[vocab["é"]] == "é".encode()
    grammars = Grammars(tokenizer, {1})
    grammars.row("x")  # built
    never = set(grammars._specials.tolist())
    assert never == {i for i in range(len(table)) if reference.is_special_token(i)} - {1}
    line_break, markup = tokenizer.convert_tokens_to_ids(["\n", "<table>"])
    assert line_break not in never and markup in never
    assert grammars.row("a\nb").take(line_break) is False  # wrong first token: the shape is broken
    row = grammars.row("a\nb")
    assert row.take(vocab["a"]) and row.allowed(len(table))[line_break]


def test_the_continuous_strategy_decodes_shaped_requests_in_the_loop(tiny):
    """The manager's processors cannot take a shape per request: a shaped one gets the batch loop's answer."""
    from agentville.sim.generation.transformers_backend import TransformersBackend

    requests = [TextRequest(f"Steps {seed}:\n-", max_tokens=128, seed=seed, shape=shapes.steps(128)) for seed in (1, 2)]
    continuous = TransformersBackend("random:tiny", strategy="continuous", device="cpu")
    try:
        answers = [continuous.submit(r).result(timeout=120).text for r in requests]
    finally:
        continuous.close()
    assert answers == [tiny.submit(r).result(timeout=120).text for r in requests]
    assert all(re.fullmatch(shapes.steps(128), " " + a) for a in answers)
