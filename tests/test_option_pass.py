"""Several choices' options in one forward, the prompt's keys and values shared: the same scores as one by one."""

from __future__ import annotations

import pytest
import torch

from agentville.sim.generation import choice_scorer, option_pass
from agentville.sim.generation.choices import continuation_ids
from agentville.sim.generation.option_pass import Prompted, Trie, _passes, _tree_mask
from agentville.sim.generation.requests import ChoiceRequest
from agentville.sim.generation.scoring import answer_ends, option_scores
from agentville.sim.generation.transformers_backend import TransformersBackend

from .models import tiny_model_dir

OPTION_SETS = [
    ("yes", "no"),
    tuple(str(k) for k in range(1, 11)),  # "1" is the start of "10"
    ("carry", "carry on", "talk"),  # "carry" is the start of "carry on"
    ("Hobbs Cafe", "The Rose and Crown Pub", "home", "Johnson Park"),
    ("a", "an answer much longer than the sliding window of the tiny gemma model, by far"),
]
PROMPTS = ["Rating:", "the cafe opens at seven and then", "Klaus walks in. " * 3 + "Should he talk?\nAnswer:",
           "word " * 40 + "and so the answer is", "Where now? ", "Maria says hello to Isabella at the cafe " * 6]
ASKED = [(prompt, OPTION_SETS[(i + k) % len(OPTION_SETS)]) for i, prompt in enumerate(PROMPTS) for k in range(2)]


def each_option_alone(worker: TransformersBackend, prompt: str, options: tuple[str, ...]) -> list[float]:
    """The reference: the prompt followed by each option, one whole forward each, no cache, no batch."""
    model, tokenizer = worker.model, worker.tokenizer
    prompt_ids = tokenizer(prompt).input_ids
    joiner = "" if prompt.endswith((" ", "\n")) else " "
    option_ids = [continuation_ids(tokenizer, prompt, prompt_ids, joiner + option) for option in options]
    longest = max(map(len, option_ids))
    first = None
    following = []
    for ids in option_ids:
        logits = model(input_ids=torch.tensor([prompt_ids + ids])).logits[0].float().log_softmax(-1)
        first = logits[len(prompt_ids) - 1]
        after = logits[len(prompt_ids):]
        following.append(torch.cat([after, torch.zeros(longest - len(ids), after.shape[-1])]))
    ends = answer_ends(tokenizer, first.shape[-1], worker.eos_ids)
    return option_scores(first, torch.stack(following), option_ids, ends)


@pytest.fixture(scope="module", params=["llama", "gemma3", "gemma3-eager"])
def model_dir(request):
    return request.param, tiny_model_dir(request.param.split("-")[0])


def worker_for(model_dir, **options) -> TransformersBackend:
    name, folder = model_dir
    worker = TransformersBackend(str(folder), **options)
    if name.endswith("eager"):
        worker.model.set_attn_implementation("eager")
    return worker


@pytest.mark.parametrize("layout", ["shared", "copies"])
def test_batched_option_passes_score_as_each_option_alone(model_dir, layout):
    worker = worker_for(model_dir, option_layout=layout)
    try:
        with torch.inference_mode():
            expected = [each_option_alone(worker, prompt, options) for prompt, options in ASKED]
            together = [scores for scores, _, _ in worker._choices.score(ASKED)]  # one pass, many prompts
            again = [scores for scores, _, _ in worker._choices.score(ASKED)]  # every prompt now from the store
            alone = [worker._choices.score([asked])[0][0] for asked in ASKED]
        for want, *got in zip(expected, together, again, alone):
            for scores in got:
                assert scores == pytest.approx(want, abs=1e-4)
                assert max(range(len(want)), key=want.__getitem__) == max(range(len(scores)), key=scores.__getitem__)
    finally:
        worker.close()


def test_without_the_prefix_store_choices_score_as_each_option_alone(model_dir):
    worker = worker_for(model_dir, prefix_cache_bytes=0)
    try:
        with torch.inference_mode():
            for prompt, options in ASKED[:6]:
                assert worker.score_options(prompt, options)[0] == pytest.approx(
                    each_option_alone(worker, prompt, options), abs=1e-4)
    finally:
        worker.close()


def test_a_choice_answered_in_a_crowd_is_the_choice_answered_alone():
    worker = TransformersBackend(str(tiny_model_dir("gemma3")))
    try:
        requests = [ChoiceRequest(prompt, options, seed=i) for i, (prompt, options) in enumerate(ASKED)]
        alone = [worker.submit(r).result(60) for r in requests]  # one at a time: nothing to batch with
        crowd = [f.result(60) for f in [worker.submit(r) for r in requests]]
        assert max(c.info["batch_size"] for c in crowd) > 1  # they did share option passes
        for a, c in zip(alone, crowd):
            assert a.text == c.text and a.raw == c.raw
            assert a.info["scores"] == pytest.approx(c.info["scores"], abs=1e-3)
    finally:
        worker.close()


def test_a_failing_batched_pass_answers_each_choice_on_its_own(monkeypatch):
    real = choice_scorer.option_logprobs

    def only_alone(model, cache_arg, prompts, *args):
        if len(prompts) > 1:
            raise RuntimeError("this pass cannot hold several prompts")
        return real(model, cache_arg, prompts, *args)

    worker = TransformersBackend(str(tiny_model_dir()))
    try:
        expected = [worker.submit(ChoiceRequest(p, o)).result(60).text for p, o in ASKED[:5]]
        monkeypatch.setattr(choice_scorer, "option_logprobs", only_alone)
        answers = [f.result(60).text for f in [worker.submit(ChoiceRequest(p, o)) for p, o in ASKED[:5]]]
        assert answers == expected
    finally:
        worker.close()


def test_options_that_start_alike_share_their_first_tokens():
    space, one, two, zero = 7, 1, 2, 0
    trie = Trie([[space, one], [space, two], [space, one, zero], [9]])  # " 1", " 2", " 10", "x"
    assert trie.tokens == [space, one, two, zero, 9] and trie.depth == [0, 1, 1, 2, 0]
    assert trie.paths() == [[0, 1, 0], [0, 2, 0], [0, 1, 3], [4, 0, 0]]
    assert [[int(x) for x in row] for row in trie.sees] == [[1, 0, 0, 0, 0],
                                                          [1, 1, 0, 0, 0],
                                                          [1, 0, 1, 0, 0],  # "2" sees the space, not "1"
                                                          [1, 1, 0, 1, 0],  # "0" sees " 1"
                                                          [0, 0, 0, 0, 1]]
    assert Trie([[5, 6], [5, 6]]).paths() == [[0, 1], [0, 1]]  # the same option twice is the same nodes


def test_the_tree_mask_lets_each_token_see_the_prompt_and_its_own_option_only():
    # row 0: a prompt of 3 tokens, options [a b] and [c]; row 1: a prompt of 1 token (left-padded), option [d]
    first, second = Trie([[10, 11], [12]]), Trie([[13]])
    seen = torch.zeros(2, 3, 3, dtype=torch.bool)
    seen[0], seen[1, :1, :1] = torch.tensor(first.sees), torch.tensor(second.sees)
    depth = torch.tensor([first.depth, second.depth + [0, 0]])
    mask = _tree_mask(seen, depth, torch.tensor([3, 1]), kept=3, window=None)[:, 0].int().tolist()
    assert mask[0] == [[1, 1, 1, 1, 0, 0],  # a: the prompt, itself
                       [1, 1, 1, 1, 1, 0],  # b: the prompt, a, itself
                       [1, 1, 1, 0, 0, 1]]  # c: the prompt, itself (not a or b)
    assert mask[1] == [[0, 0, 1, 1, 0, 0],  # d: its one prompt token (the two before are padding), itself
                       [0, 0, 0, 0, 1, 0],  # padding sees only itself
                       [0, 0, 0, 0, 0, 1]]
    # a sliding window of 3: b, at position 3 + 1, no longer sees prompt position 1 (the layer keeps 1 and 2)
    sliding = _tree_mask(seen[:1], depth[:1], torch.tensor([3]), kept=2, window=3)[0, 0].int().tolist()
    assert sliding == [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [1, 1, 0, 0, 1]]


def test_a_pass_holds_as_many_prompts_as_its_token_budget_allows(monkeypatch):
    monkeypatch.setattr(option_pass, "TOKENS_PER_PASS", 24)
    rating = [[7, k] for k in range(1, 10)] + [[7, 1, 0]]  # 11 trie nodes, 10 rows of up to 3 tokens
    yes_no = [[5], [6]]
    prompts = [Prompted(None, options) for options in (rating, yes_no, yes_no, rating)]  # no keys needed to plan
    # shared: one row per prompt, as wide as the widest trie (11 nodes): two prompts a pass
    assert [len(group) for group in _passes(prompts, "shared")] == [2, 2]
    # copies: one row per option, as wide as the longest option: a rating alone is 10 x 3, over budget
    assert [len(group) for group in _passes(prompts, "copies")] == [1, 2, 1]
