"""The in-process transformers worker, on a tiny random model (and once on the embedded model)."""

from __future__ import annotations

import concurrent.futures
import time

import pytest

from agentville.sim.core.errors import UserError
from agentville.sim.generation import GenerationFailed
from agentville.sim.generation.models import resolve
from agentville.sim.generation.requests import ChoiceRequest, TextRequest
from agentville.sim.generation.transformers_backend import TransformersBackend

from .models import tiny_model_dir


@pytest.fixture(scope="module")
def backend():
    worker = TransformersBackend(str(tiny_model_dir()))
    yield worker
    worker.close()


OPTIONS = [("yes", "no"), tuple(str(i) for i in range(1, 11)),
           ("Hobbs Cafe", "The Rose and Crown Pub", "Johnson Park", "home")]


def test_choices_are_always_one_of_the_options(backend):
    futures = [backend.submit(ChoiceRequest(prompt=f"Question {i}: where now?\nAnswer:", options=options, seed=i))
               for i in range(12) for options in OPTIONS]
    for future in futures:
        completion = future.result(timeout=120)
        assert completion.text in sum(OPTIONS, ())
        assert len(completion.info["scores"]) in (2, 10, 4)


def test_option_scores_are_log_likelihoods(backend):
    scores, prompt_tokens = backend.score_options("The cafe is", ("open", "open all day long"))
    assert prompt_tokens > 0
    assert scores[1] < scores[0] < 0  # log-probabilities of complete answers; the long one is far less likely


def test_text_requests_respect_budget_and_stops(backend):
    long = backend.submit(TextRequest(prompt="Once upon a time", max_tokens=7, temperature=0.0)).result(60)
    assert 1 <= long.output_tokens <= 7 and long.prompt_tokens > 0
    first_word = long.text.split()[0]
    stopped = backend.submit(TextRequest(prompt="Once upon a time", max_tokens=7, temperature=0.0,
                                         stop=(first_word,))).result(60)
    assert first_word not in stopped.text


def test_sixteen_concurrent_requests_from_many_threads_complete(backend):
    def ask(i):
        request = (TextRequest(prompt="word " * (5 + 20 * i), max_tokens=4 + i, temperature=0.8, seed=i) if i % 2
                   else ChoiceRequest(prompt="word " * (5 + 10 * i), options=("a", "b", "c"), seed=i))
        return backend.submit(request).result(timeout=120)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(ask, range(16)))
    assert len(results) == 16 and all(r.text is not None for r in results)
    assert max(r.info["batch_size"] for r in results) > 1  # they were batched together


def test_sampled_answer_depends_on_request_not_on_batch_mates(backend):
    request = TextRequest(prompt="hello there friend", max_tokens=8, temperature=1.0, seed=42)
    alone = backend.submit(request).result(60).text
    crowd = [backend.submit(request)] + [backend.submit(TextRequest(prompt="x " * k, max_tokens=3, seed=k,
                                                                    temperature=1.0)) for k in range(1, 6)]
    assert crowd[0].result(60).text == alone
    other_seed = backend.submit(TextRequest(prompt="hello there friend", max_tokens=8, temperature=1.0,
                                            seed=43)).result(60).text
    assert other_seed != alone


def test_continuous_strategy_routes_results_to_futures():
    worker = TransformersBackend(str(tiny_model_dir()), strategy="continuous")
    try:
        futures = [worker.submit(TextRequest(prompt=f"count {i}", max_tokens=3 + i, temperature=0.0, seed=i))
                   for i in range(6)]
        futures.append(worker.submit(ChoiceRequest(prompt="pick", options=("x", "y"))))
        results = [f.result(timeout=120) for f in futures]
        assert all(1 <= r.output_tokens <= 3 + i for i, r in enumerate(results[:6]))
        assert results[-1].text in ("x", "y")
    finally:
        worker.close()


def test_close_never_leaves_a_caller_hanging():
    worker = TransformersBackend(str(tiny_model_dir()))
    pending = [worker.submit(TextRequest(prompt="tell me a story " * 20, max_tokens=64, seed=i)) for i in range(8)]
    started = time.monotonic()
    worker.close()
    assert time.monotonic() - started < 60
    for future in pending:  # each either finished or failed: none hangs
        try:
            future.result(timeout=1)
        except GenerationFailed:
            pass
    with pytest.raises(GenerationFailed):
        worker.submit(TextRequest(prompt="late")).result(timeout=1)


def test_model_names_resolve_without_loading(tmp_path):
    assert resolve(None).model_id == resolve("embedded").model_id == "embedded:gemma-3-270m-q4_k_m"
    assert resolve(str(tiny_model_dir())).model_id == "hf:llama"
    assert resolve("google/gemma-3-270m").model_id == "hf:google/gemma-3-270m"
    with pytest.raises(UserError, match="does not exist"):
        resolve(str(tmp_path / "missing.gguf"))
    with pytest.raises(UserError, match="config.json"):
        resolve(str(tmp_path))


@pytest.mark.slow
def test_embedded_model_answers_choices_and_texts():
    worker = TransformersBackend()  # the embedded default: converted once, then loaded from the cache
    try:
        assert worker.model_id == "embedded:gemma-3-270m-q4_k_m"
        prompt = ("Isabella Rodriguez runs Hobbs Cafe and is planning a Valentine's Day party.\n"
                  "Question: Is Isabella planning a party? Answer yes or no.\nAnswer:")
        futures = [worker.submit(ChoiceRequest(prompt=prompt, options=("yes", "no"), seed=1))]
        futures += [worker.submit(ChoiceRequest(prompt=f"On a scale of 1 to 10, how important is event {i}?\n"
                                                       "Rating:", options=tuple(map(str, range(1, 11))), seed=i))
                    for i in range(5)]
        futures += [worker.submit(TextRequest(prompt=f"Maria Lopez is a physics student. Her plan for day {i}:\n1)",
                                              max_tokens=12, seed=i)) for i in range(10)]
        results = [f.result(timeout=600) for f in futures]
        assert len(results) == 16
        assert results[0].text == "yes"
        assert all(r.text in map(str, range(1, 11)) for r in results[1:6])
        assert all(r.output_tokens >= 1 for r in results[6:])
    finally:
        worker.close()


def test_split_balances_padding_against_decode_loops():
    from agentville.sim.generation.decoding import batch_cost, best_split

    # similar prompts and budgets: one batch (one decode loop) is cheapest
    assert best_split([157, 200, 250, 300, 400, 500, 600, 612], [48] * 8, 32) == []
    # short prompts with tiny budgets do not wait behind, or pad up to, long ones
    assert best_split([150, 160, 600, 610], [2, 2, 48, 48], 32) == [2]
    # never more than max_batch rows
    cuts = best_split([150] * 40, [48] * 40, 32)
    assert cuts and all(b - a <= 32 for a, b in zip([0] + cuts, cuts + [40]))
    assert batch_cost([100, 200], [10, 20]) > batch_cost([100], [10])
