"""bf16 against fp32 for the shared worker: speed, and whether the answers stay the same.

Loads the model once per dtype and answers the same requests with the shared
worker (greedy texts, scored choices): consecutive requests of a real run
(``bench/generation.py``'s ``logged`` mix) and the ``agents`` mix. Prints wall
time per dtype, then quality: how many choices pick the same option, and how
many texts are identical (or share their first words) across the two.

    python bench/precision.py                 # embedded model, 48 requests of each mix
    python bench/precision.py --n 96 --model PATH_OR_ID
"""

from __future__ import annotations

import argparse
import time

from generation import logged_mix, request_mix  # bench/generation.py: run as a script, its folder is on the path

from agentville.sim.generation.models import load, resolve
from agentville.sim.generation.requests import ChoiceRequest
from agentville.sim.generation.transformers_backend import TransformersBackend


def answer(spec, dtype: str, requests) -> tuple[float, list]:
    model, tokenizer = load(spec, device="cpu", dtype=dtype, log=lambda m: None)
    worker = TransformersBackend(spec=spec, loaded=(model, tokenizer))
    try:
        worker.submit(requests[0]).result(600)  # warm-up (first-call allocations)
        start = time.perf_counter()
        futures = [worker.submit(r) for r in requests]
        completions = [f.result(3600) for f in futures]
        return time.perf_counter() - start, completions
    finally:
        worker.close()


def same_start(a: str, b: str, words: int = 3) -> bool:
    return a.split()[:words] == b.split()[:words]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="HF id, local directory or .gguf (default: embedded)")
    parser.add_argument("--n", type=int, default=48, help="requests of each mix")
    args = parser.parse_args()
    import torch

    spec = resolve(args.model)
    requests = [r if isinstance(r, ChoiceRequest) else _greedy(r) for r in logged_mix(args.n) + request_mix(args.n)]
    choices = [i for i, r in enumerate(requests) if isinstance(r, ChoiceRequest)]
    texts = [i for i in range(len(requests)) if i not in choices]
    print(f"model {spec.model_id}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{len(requests)} requests ({len(choices)} choices, {len(texts)} texts)")
    results = {dtype: answer(spec, dtype, requests) for dtype in ("float32", "bfloat16")}
    print(f"{'dtype':<10} {'wall s':>8} {'out tok/s':>10}")
    for dtype, (wall, completions) in results.items():
        print(f"{dtype:<10} {wall:>8.1f} {sum(c.output_tokens for c in completions) / wall:>10.1f}")
    full, half = results["float32"][1], results["bfloat16"][1]
    agree = sum(full[i].text == half[i].text for i in choices)
    exact = sum(full[i].text == half[i].text for i in texts)
    start = sum(same_start(full[i].text, half[i].text) for i in texts)
    print(f"choices with the same option: {agree}/{len(choices)}; texts identical: {exact}/{len(texts)}; "
          f"same first three words: {start}/{len(texts)}")


def _greedy(request):
    import dataclasses

    return dataclasses.replace(request, temperature=0.0)


if __name__ == "__main__":
    main()
