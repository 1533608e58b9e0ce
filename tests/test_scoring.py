"""Choices scored as complete answers, and the prefix store that keeps prefill short."""

from __future__ import annotations

import math

import pytest
import torch

from agentville.sim.generation.prefix_cache import PrefixCache, Snapshot, common_prefix
from agentville.sim.generation.requests import ChoiceRequest, TextRequest
from agentville.sim.generation.scoring import answer_ends, option_scores
from agentville.sim.generation.transformers_backend import TransformersBackend

from .models import tiny_model_dir

# a toy vocabulary: 0 "▁", 1 "1", 2 "0", 3 newline, 4 "▁carry", 5 "▁on", 6 "▁talk", 7 "x"
VOCAB = 8
ENDS = torch.tensor([True, False, False, True, True, True, True, False])


def distribution(**probabilities: float) -> torch.Tensor:
    """Log-probabilities over the toy vocabulary; what is not named shares the rest evenly."""
    named = {int(k[1:]): v for k, v in probabilities.items()}
    rest = (1 - sum(named.values())) / (VOCAB - len(named))
    return torch.tensor([named.get(i, rest) for i in range(VOCAB)]).log()


def test_ten_can_win_a_rating_the_model_means():
    # the model says " 1" then almost surely "0" then a new line: it means 10
    first = distribution(t0=0.99)
    following = torch.stack([
        torch.stack([distribution(t1=0.9), distribution(t2=0.9, t3=0.05), distribution(t3=0.95)]),  # " 10"
        torch.stack([distribution(t1=0.9), distribution(t2=0.9, t3=0.05), distribution(t3=0.95)]),  # " 1"
    ])
    scores = option_scores(first, following, [[0, 1, 2], [0, 1]], ENDS)
    assert scores[0] > scores[1]
    # summed token likelihoods alone (the old rule) can never prefer " 10"
    assert math.log(0.99) + math.log(0.9) > math.log(0.99) + math.log(0.9) + math.log(0.9)


def test_one_still_wins_when_the_answer_ends_after_it():
    first = distribution(t0=0.99)
    following = torch.stack([
        torch.stack([distribution(t1=0.9), distribution(t3=0.8, t2=0.05), distribution(t3=0.95)]),
        torch.stack([distribution(t1=0.9), distribution(t3=0.8, t2=0.05), distribution(t3=0.95)]),
    ])
    scores = option_scores(first, following, [[0, 1, 2], [0, 1]], ENDS)
    assert scores[1] > scores[0]


def test_an_option_that_is_the_start_of_another_does_not_take_its_continuation():
    # after "carry" the model goes on with " on" (70%): "carry on" is meant, not "carry"
    first = distribution(t4=0.6, t6=0.3)
    after_carry, after_on = distribution(t5=0.7, t3=0.2), distribution(t3=0.9)
    following = torch.stack([torch.stack([after_carry, after_on]), torch.stack([after_carry, after_on]),
                             torch.stack([distribution(t3=0.9), distribution(t3=0.9)])])
    carry_on, carry, talk = option_scores(first, following, [[4, 5], [4], [6]], ENDS)
    assert carry_on > talk > carry


def test_answer_ends_on_a_word_piece_vocabulary():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir()))
    ends = answer_ends(tokenizer, len(tokenizer), {tokenizer.sep_token_id})
    for text, expected in (("on", True), (".", True), ("##s", False)):
        assert bool(ends[tokenizer.convert_tokens_to_ids(text)]) is expected, text
    assert bool(ends[tokenizer.sep_token_id]) and not bool(ends[tokenizer.pad_token_id])


def test_common_prefix_and_least_recently_used_eviction():
    assert common_prefix((1, 2, 3, 4), (1, 2, 9)) == 2
    assert common_prefix((1, 2), (1, 2, 3)) == 2 and common_prefix((5,), (1,)) == 0

    def snap(length: int) -> Snapshot:
        return Snapshot((torch.zeros(1, 1, length, 4),), (torch.zeros(1, 1, length, 4),), length)

    store = PrefixCache(budget_bytes=2 * snap(10).nbytes)
    store.put((1, 2, 3) + (0,) * 7, snap(10))
    store.put((7,) * 10, snap(10))
    found = store.longest((1, 2, 3, 4))
    assert found is not None and found.length == 3 and found.keys[0].shape[2] == 3
    store.put((9,) * 10, snap(10))  # over budget: the least recently used (the 7s) goes
    assert store.longest((7, 7, 7)) is None
    assert store.longest((1, 2, 3)).length == 2  # one token is always left to compute
    assert store.reused_tokens == 5 and store.prompt_tokens == 10


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_reusing_prefixes_changes_no_answer(arch):
    """Greedy texts and option scores are the same with the prefix store on and off (sliding windows too)."""
    prompts = ["the cafe opens at seven and " * k + f"then person {k} says" for k in range(1, 7)]
    texts = [TextRequest(p, max_tokens=10, temperature=0.0, seed=i) for i, p in enumerate(prompts)]
    choices = [ChoiceRequest(p, ("yes", "no", "maybe so", "maybe")) for p in prompts]

    def answers(worker: TransformersBackend) -> tuple[list, list]:
        try:
            first = [f.result(60) for f in [worker.submit(r) for r in texts + choices]]
            again = [f.result(60) for f in [worker.submit(r) for r in texts + choices]]
            return first, again
        finally:
            worker.close()

    plain, _ = answers(TransformersBackend(str(tiny_model_dir(arch)), prefix_cache_bytes=0))
    reused, again = answers(TransformersBackend(str(tiny_model_dir(arch))))
    assert [a.text for a in plain] == [a.text for a in reused] == [a.text for a in again]
    for a, b in zip(plain[len(texts):], again[len(texts):]):
        assert a.info["scores"] == pytest.approx(b.info["scores"], abs=1e-3)
    assert all(a.info["prefix_tokens"] > 0 for a in again)  # the second time round every prompt was stored
    assert reused[len(texts)].raw.count("|") == 2  # the best three options and their scores


@pytest.mark.slow
def test_the_embedded_model_can_answer_ten(monkeypatch):
    from agentville.sim.generation.models import resolve

    monkeypatch.delenv("AGENTVILLE_DTYPE")  # as users run it: bf16 where the CPU has it

    worker = TransformersBackend(spec=resolve("embedded"))
    try:
        counting = ChoiceRequest("Counting up: 1, 2, 3, 4, 5, 6, 7, 8, 9,", tuple(str(k) for k in range(1, 11)))
        assert worker.submit(counting).result(120).text == "10"
        down = ChoiceRequest("Counting down: 10, 9, 8, 7, 6, 5, 4, 3, 2,", tuple(str(k) for k in range(1, 11)))
        assert worker.submit(down).result(120).text == "1"
    finally:
        worker.close()


def test_the_cpu_dtype_follows_native_bf16_support(monkeypatch):
    from agentville.sim.core.errors import UserError
    from agentville.sim.generation import models

    monkeypatch.delenv("AGENTVILLE_DTYPE")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert models.auto_dtype("cpu") == "bfloat16" and models.auto_dtype("cuda:0") == "bfloat16"
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert models.auto_dtype("cpu") == "float32"
    monkeypatch.setenv("AGENTVILLE_DTYPE", "bfloat16")
    assert models.auto_dtype("cpu") == "bfloat16"
    monkeypatch.setenv("AGENTVILLE_DTYPE", "half")
    with pytest.raises(UserError, match="AGENTVILLE_DTYPE=half"):
        models.auto_dtype("cpu")


def test_stats_show_the_share_of_prompt_tokens_the_store_supplied():
    import pandas as pd

    from agentville.sim.analysis.stats import llm_stats

    def call(purpose: str, prompt: int, wall: dict) -> dict:
        return {"kind": "llm_call", "wall": wall,
                "data": {"purpose": purpose, "fallback": False, "prompt_tokens": prompt, "output_tokens": 1}}

    table = llm_stats(pd.DataFrame([
        call("importance", 100, {"prefix_tokens": 80}), call("importance", 100, {"prefix_tokens": 60}),
        call("importance", 100, {"prefix_tokens": 0, "cache_hit": True}),  # a cached answer computed nothing
        call("utterance", 50, {}),  # a backend without a store: unknown, not zero
    ]))
    assert table.loc["importance", "prefix_hit_%"] == pytest.approx(70.0)
    assert math.isnan(table.loc["utterance", "prefix_hit_%"])
    assert table.loc["TOTAL", "prefix_hit_%"] == pytest.approx(70.0)
