"""The GPU path on a CPU: random-weight models, per-request sampling in continuous batching, bench/gpu_check.sh."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agentville.sim.core.errors import UserError
from agentville.sim.generation.continuous import SeededPick, gumbel_noise, sampling_kwargs, token_key
from agentville.sim.generation.models import load, resolve
from agentville.sim.generation.requests import TextRequest
from agentville.sim.generation.transformers_backend import TransformersBackend

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "hello there friend"


def test_random_specs_resolve_without_loading():
    spec = resolve("random:tiny")
    assert (spec.model_id, spec.random_arch) == ("random:tiny", "tiny")
    assert resolve("random:qwen2-0.5b").model_id == "random:qwen2-0.5b"


def test_an_unknown_random_arch_names_the_known_ones():
    with pytest.raises(UserError, match="unknown random architecture.*random:qwen2-0.5b.*random:tiny"):
        resolve("random:qwen9")


def test_random_weights_are_the_same_on_every_load():
    (first, tokenizer), (second, _) = (load(resolve("random:tiny"), device="cpu")
                                              for _ in range(2))
    assert first.device.type == "cpu" and str(first.dtype) == "torch.float32"
    assert tokenizer.padding_side == "left" and first.generation_config.eos_token_id == tokenizer.sep_token_id
    assert all((a == b).all() for a, b in zip(first.state_dict().values(), second.state_dict().values()))


def test_gumbel_max_draws_follow_the_softmax():
    import torch

    keys = torch.tensor([token_key(seed, 0) for seed in range(4000)], dtype=torch.int32)
    assert (keys != 0).all() and len(set(keys.tolist())) > 3990
    assert torch.equal(gumbel_noise(keys[:3], 50), gumbel_noise(keys[:3], 50))  # a pure function of key and id
    scores = torch.log(torch.tensor([[0.25, 0.75]])).expand(len(keys), 2)
    picked = SeededPick()(scores, keys).argmax(dim=-1)
    assert abs(picked.float().mean().item() - 0.75) < 0.03


def test_seeded_pick_leaves_one_token_per_row_and_greedy_rows_their_argmax():
    import torch

    scores = torch.tensor([[0.1, 2.0, 0.3], [5.0, 0.0, float("-inf")]])
    out = SeededPick()(scores, torch.tensor([0, token_key(1, 0)], dtype=torch.int32))
    assert torch.isfinite(out).sum(dim=-1).tolist() == [1, 1]
    assert out[0].argmax().item() == 1 and out[1].argmax().item() != 2  # greedy; never a filtered token


def test_greedy_requests_pass_no_sampling_arguments():
    assert sampling_kwargs(TextRequest(PROMPT, temperature=0.0, seed=3)) == {}
    assert sampling_kwargs(TextRequest(PROMPT, temperature=0.9, top_p=0.5, seed=3)) == {
        "temperature": 0.9, "top_p": 0.5, "seed": 3}


@pytest.fixture(scope="module")
def continuous():
    worker = TransformersBackend("random:tiny", strategy="continuous", device="cpu")
    yield worker
    worker.close()


def ask(worker: TransformersBackend, *requests: TextRequest) -> list[str]:
    futures = [worker.submit(r) for r in requests]
    return [f.result(timeout=120).text for f in futures]


def test_each_request_keeps_its_own_temperature_top_p_and_seed(continuous):
    sampled = TextRequest(PROMPT, max_tokens=8, temperature=1.0, seed=42)
    greedy = TextRequest(PROMPT, max_tokens=8, temperature=0.0)
    # the manager starts on a sampled request: the greedy one must still be greedy
    first, alone = ask(continuous, sampled, greedy)
    crowd = [TextRequest("x " * k, max_tokens=5, temperature=1.0, seed=k) for k in range(1, 6)]
    *_, in_crowd, greedy_in_crowd = ask(continuous, *crowd, sampled, greedy)
    assert (in_crowd, greedy_in_crowd) == (first, alone)  # the draw depends on the request, not its batch-mates
    assert ask(continuous, TextRequest(PROMPT, max_tokens=8, temperature=1.0, seed=43)) != [first]
    nucleus = [TextRequest(PROMPT, max_tokens=8, temperature=1.0, top_p=1e-6, seed=k) for k in range(3)]
    cold = [TextRequest(PROMPT, max_tokens=8, temperature=1e-6, seed=k) for k in range(3)]
    assert ask(continuous, *nucleus, *cold) == [alone] * 6  # per-request top_p and temperature reach the sampler


def test_continuous_greedy_answers_match_the_cpu_batch_path(continuous):
    requests = [TextRequest(f"{PROMPT} number {i}", max_tokens=6, temperature=0.0) for i in range(3)]
    batch = TransformersBackend("random:tiny", strategy="batch", device="cpu")
    try:
        assert ask(continuous, *requests) == ask(batch, *requests)
    finally:
        batch.close()


def gpu_check(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GPU_CHECK_PYTHON": sys.executable, "GPU_CHECK_OUT": str(tmp_path), **settings}
    return subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh")], env=env, capture_output=True, text=True,
                          timeout=280)


def test_gpu_check_refuses_a_machine_without_a_gpu(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = gpu_check(tmp_path, GPU_CHECK_ALLOW_CPU="0")
    assert result.returncode == 2 and "no CUDA GPU" in result.stderr and result.stdout == ""


@pytest.mark.slow
def test_gpu_check_runs_small_on_a_cpu(tmp_path):
    result = gpu_check(tmp_path, GPU_CHECK_ALLOW_CPU="1", GPU_CHECK_ARCH="tiny", GPU_CHECK_N="3", GPU_CHECK_N_BIG="4",
                       GPU_CHECK_UNTIL="+5m")
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    table = result.stdout
    assert table.count("Agentville GPU check") == 1
    for row in ("device", "torch / transformers", "model  ", "generation (", "generation big (", "(a) ",
                "(d) shared worker [batch]", "(e) shared worker [continuous]", "smallville, 25 agents, +5m",
                "wall s", "llm calls", "calls/s", "llm fallbacks", "total s"):
        assert row in table, row
    assert re.search(r"^ +3 +\(e\)", table, re.M) and re.search(r"^ +4 +\(e\)", table, re.M)
    assert not re.search(r"^ +4 +\(a\)", table, re.M)  # the big sizes skip one request at a time
    calls = next(line for line in table.splitlines() if "llm calls" in line).split()[-1]
    assert int(calls) > 25
