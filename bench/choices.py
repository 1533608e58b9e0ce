"""Scored choices per second: one prompt per forward against several, options copied against shared.

N importance ratings (the real template, ten options "1".."10", a different
memory each, so the prefix store supplies the template and each prompt
prefills only its own tail) are answered by the in-process worker in four ways:

  one-by-one   one request per option pass, the prompt's keys and values
               copied once per option (how choices were answered before)
  batched      up to --batch requests per option pass, one row per
               (request, option), the prompt copied into each row
  shared       one request per pass, all its options in one row after one
               copy of the prompt (tree attention: a 4D mask, positions
               restarting at the prompt's length for each option)
  batched+shared  both (the worker's default)

Each way gets a fresh worker (an empty prefix store) on the same loaded model,
after a warm-up. Prints choices per second and CPU seconds (steadier than wall
time on a busy machine), the speed-up over one-by-one, and
how far each way's scores are from one-by-one's (largest absolute difference,
and how many answers differ).

    nice python bench/choices.py                  # embedded Gemma 3 270M, N = 40
    nice python bench/choices.py --threads 1      # on a machine shared with other work
    nice python bench/choices.py --n 80 --batch 16
    python bench/choices.py --random-arch tiny    # random weights, seconds
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from generation import DEEDS, PEOPLE, persona  # bench/generation.py: the same people and deeds

from agentville.sim.generation.random_weights import RANDOM_ARCHS
from agentville.sim.generation.requests import ChoiceRequest

WAYS = {"one-by-one": (1, "copies"), "batched": (None, "copies"), "shared": (1, "shared"),
        "batched+shared": (None, "shared")}


def ratings(n: int, seed: int = 0) -> list[ChoiceRequest]:
    """N importance ratings of different memories of different people."""
    from agentville.agents.memory.stream import IMPORTANCE_OPTIONS, importance_prompt

    rng = random.Random(seed)
    out = []
    for i in range(n):
        name = rng.choice(PEOPLE)
        memory = f"{name} {rng.choice(DEEDS)} with {rng.choice(PEOPLE)}"
        out.append(ChoiceRequest(importance_prompt(persona(name), memory), IMPORTANCE_OPTIONS, seed=i,
                                 purpose="importance"))
    return out


def answer_all(model, tokenizer, requests, batch: int, layout: str):
    """(completions, wall seconds, CPU seconds) from a fresh worker answering ``requests`` submitted at once."""
    from agentville.sim.generation.transformers_backend import TransformersBackend

    worker = TransformersBackend(spec=_Spec(), loaded=(model, tokenizer), choice_batch=batch, option_layout=layout)
    try:
        start, cpu = time.perf_counter(), time.process_time()
        futures = [worker.submit(r) for r in requests]
        answers = [f.result(timeout=3600) for f in futures]
        return answers, time.perf_counter() - start, time.process_time() - cpu
    finally:
        worker.close()


class _Spec:
    model_id = "bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="HF id, local directory or .gguf (default: embedded)")
    parser.add_argument("--random-arch", choices=sorted(RANDOM_ARCHS), default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--batch", type=int, default=8, help="requests per option pass in the batched ways")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice); "
                        "on a machine shared with other work, 1 keeps the figures steady")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    if args.random_arch:
        from agentville.sim.generation.random_weights import random_model

        model, tokenizer = random_model(args.random_arch, device=args.device)
        name = f"random {args.random_arch}"
    else:
        from agentville.sim.generation.models import load, resolve

        spec = resolve(args.model)
        model, tokenizer = load(spec, device=args.device, log=lambda m: print(m, file=sys.stderr))
        name = spec.model_id
    requests = ratings(args.n)
    lengths = [len(tokenizer(r.prompt).input_ids) for r in requests]
    print(f"model {name} on {model.device.type} ({torch.get_num_threads()} threads, {model.dtype}), "
          f"torch {torch.__version__}; {args.n} ratings of 10 options, prompts {min(lengths)}-{max(lengths)} tokens")
    answer_all(model, tokenizer, ratings(4, seed=99), args.batch, "shared")  # warm-up
    print(f"{'way':<16} {'wall s':>7} {'choices/s':>9} {'x':>6} {'CPU s':>7} {'x CPU':>6} {'max |d score|':>13} "
          f"{'answers differ':>14}")
    base: list | None = None
    base_wall = base_cpu = 0.0
    for way, (batch, layout) in WAYS.items():
        answers, wall, cpu = answer_all(model, tokenizer, requests, batch or args.batch, layout)
        if base is None:
            base, base_wall, base_cpu = answers, wall, cpu
        gap = max(abs(a - b) for x, y in zip(base, answers) for a, b in zip(x.info["scores"], y.info["scores"]))
        differ = sum(x.text != y.text for x, y in zip(base, answers))
        print(f"{way:<16} {wall:>7.2f} {args.n / wall:>9.2f} {base_wall / wall:>5.2f}x {cpu:>7.2f} "
              f"{base_cpu / cpu:>5.2f}x {gap:>13.2g} {differ:>14}", flush=True)


if __name__ == "__main__":
    main()
