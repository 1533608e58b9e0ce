"""Generation throughput: the shared worker against the ways a user would batch by hand.

A realistic mix of agent requests (prompts of 150-600 tokens; answers of 1-48
tokens: yes/no choices, 1-10 ratings, place choices, short plans, utterances)
is answered, N at a time, by

  (a) one request at a time with model.generate,
  (b) one padded model.generate batch of the same requests (the naive peer),
  (c) transformers' generate_batch (continuous batching, one call),
  (d) Agentville's shared worker with the strategy it picks for this device,
  (e) the shared worker forced to the other strategy (to show the choice).

Everything decodes greedily so the methods do the same work; (a)-(c) generate
a short text for choice requests (as a naive peer would, then parse), the
worker scores the options instead. Prints wall time, useful output tokens
(each request's own budget, up to its end of sequence) per second, and the
speed-up over (a).

    python bench/generation.py                    # embedded Gemma 3 270M, N = 8 and 32
    python bench/generation.py --model PATH_OR_ID --n 8 32 128
    python bench/generation.py --random-arch qwen2-0.5b   # random weights, any device
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from agentville.sim.generation.random_weights import RANDOM_ARCHS
from agentville.sim.generation.requests import ChoiceRequest, Request, TextRequest

PEOPLE = ["Isabella Rodriguez", "Maria Lopez", "Klaus Mueller", "Sam Moore", "Jennifer Moore", "John Lin",
          "Mei Lin", "Eddy Lin", "Tom Moreno", "Jane Moreno", "Carmen Ortiz", "Tamara Taylor"]
PLACES = ["Hobbs Cafe", "The Rose and Crown Pub", "Johnson Park", "Oak Hill College", "The Willows Market",
          "Harvey Oak Supply Store", "the library", "home"]
DEEDS = ["talked about the mayoral election", "drank a coffee", "read a book about gentrification",
         "planned a Valentine's Day party", "played the guitar", "bought groceries", "painted a watercolour",
         "went for a walk in the park", "studied physics", "fixed a leaking tap", "wrote two pages of a paper",
         "chatted with a neighbour about the weather", "opened the shop", "cooked dinner for the family"]


def memory_lines(rng: random.Random, tokens: int) -> str:
    """Plausible memory-stream lines, about ``tokens`` tokens in all."""
    lines = []
    while sum(len(line.split()) for line in lines) * 1.35 < tokens:
        lines.append(f"{len(lines) + 1}. {rng.choice(PEOPLE)} {rng.choice(DEEDS)} at {rng.choice(PLACES)}.")
    return "\n".join(lines)


def persona(name: str) -> str:
    """A persona block like the one that opens every prompt of an agent (agents/prompts/persona.txt)."""
    rng = random.Random(name)
    traits = ", ".join(rng.sample(["friendly", "curious", "hardworking", "shy", "organised", "witty", "kind"], 3))
    return (f"{name}, {rng.randint(20, 70)}. Traits: {traits}.\n{name} {rng.choice(DEEDS)} every week and "
            f"knows most people at {rng.choice(PLACES)}.\n{name} is looking forward to the weekend.\n"
            f"Lifestyle: {name} goes to bed around {rng.randint(21, 23)}:00 and wakes up around "
            f"{rng.randint(5, 8)}:00.")


def request_mix(n: int, seed: int = 0) -> list[Request]:
    """N requests shaped like a simulation's: ratings, choices, plans, utterances.

    Laid out as the agents' prompts are: the importance rating is the real
    template (shared instructions and examples first); every other prompt
    opens with the person's persona block, then memories (random, so never
    shared) and the question.
    """
    from agentville.agents.memory.stream import importance_prompt

    rng = random.Random(seed)
    kinds = ["rating", "yesno", "place", "plan", "utterance", "describe"]
    out: list[Request] = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        name = rng.choice(PEOPLE)
        context = memory_lines(rng, rng.randint(130, 560))
        head = f"{persona(name)}\n\n{name} remembers:\n{context}\n\n"
        if kind == "rating":
            out.append(ChoiceRequest(importance_prompt(persona(name), f"{name} {rng.choice(DEEDS)}"),
                                     tuple(str(k) for k in range(1, 11)), seed=i, purpose="importance"))
        elif kind == "yesno":
            other = rng.choice(PEOPLE)
            out.append(ChoiceRequest(head + f"{name} sees {other}. Should {name} start a conversation?\nAnswer:",
                                     ("yes", "no"), seed=i, purpose="react"))
        elif kind == "place":
            out.append(ChoiceRequest(head + f"Where should {name} go to {rng.choice(DEEDS)}?\nPlace:",
                                     tuple(PLACES), seed=i, purpose="where"))
        elif kind == "plan":
            out.append(TextRequest(head + f"{name}'s plan for today, in broad strokes:\n1)", max_tokens=48,
                                   temperature=0.0, seed=i, purpose="plan"))
        elif kind == "utterance":
            out.append(TextRequest(head + f"{name} meets {rng.choice(PEOPLE)} at {rng.choice(PLACES)}.\n"
                                   f"{name}: \"", max_tokens=32, stop=("\"",), temperature=0.0, seed=i,
                                   purpose="utterance"))
        else:
            out.append(TextRequest(head + f"What is {name} doing right now, in one sentence?\n", max_tokens=16,
                                   stop=("\n",), temperature=0.0, seed=i, purpose="describe"))
    return out


def planning_mix(n: int, seed: int = 0) -> list[Request]:
    """The mix measured while planning: ~251-token prompts, 32 new tokens each, all text."""
    rng = random.Random(seed)
    out: list[Request] = []
    for i in range(n):
        name = rng.choice(PEOPLE)
        prompt = f"{name} remembers:\n{memory_lines(rng, 215)}\n\nWhat {name} does next:\n"
        out.append(TextRequest(prompt, max_tokens=32, temperature=0.0, seed=i, purpose="plan"))
    return out


def logged_mix(n: int, seed: int = 0) -> list[Request]:
    """N consecutive requests of a real run: a fake-backend Smallville morning, from 2.5 h in.

    The prompts are the engine's own (personas, retrieved memories, dialogue
    so far); only the answers they quote are the fake backend's.
    """
    return _logged_requests(seed)[:n]


def _logged_requests(seed: int) -> list[Request]:
    import json
    import tempfile
    from pathlib import Path

    from agentville.sim.lab.experiment import Experiment

    with tempfile.TemporaryDirectory() as folder:
        world = Path(__file__).resolve().parents[1] / "worlds" / "smallville.yaml"
        with Experiment(world, db=Path(folder) / "mix.db", llm="fake", seed=seed) as experiment:
            experiment.run(until="+3h")
            db = experiment.store.db
            asked = db.execute("SELECT json_extract(data, '$.prompt'), json_extract(data, '$.seed'), sim_time "
                               "FROM events WHERE kind='llm_call' ORDER BY seq").fetchall()
            requests = {(r["prompt"], r["seed"]): r for r in map(json.loads, (row[0] for row in db.execute(
                "SELECT request FROM llm_cache")))}
    out: list[Request] = []
    for prompt, call_seed, sim_time in asked:
        request = requests.get((prompt, call_seed))
        if sim_time < 9000 or request is None:
            continue
        if "options" in request:
            out.append(ChoiceRequest(prompt, tuple(request["options"]), seed=call_seed, purpose="logged"))
        else:  # as asked (budget, stops), but greedy so that every method does the same work
            out.append(TextRequest(prompt, max_tokens=request["max_tokens"], stop=tuple(request["stop"]),
                                   temperature=0.0, seed=call_seed, purpose="logged"))
    return out


MIXES = {"agents": request_mix, "planning": planning_mix, "logged": logged_mix}


def budget(request: Request) -> int:
    """New tokens a naive peer generates for a request (choices: a short answer to parse)."""
    if isinstance(request, ChoiceRequest):
        return max(len(o.split()) for o in request.options) + 2
    return request.max_tokens


def load(args: argparse.Namespace):

    if args.random_arch:
        from agentville.sim.generation.random_weights import random_model

        model, tokenizer = random_model(args.random_arch, device=args.device)
        return model, tokenizer, f"random {args.random_arch}"
    from agentville.sim.generation.models import load as load_model
    from agentville.sim.generation.models import resolve

    spec = resolve(args.model)
    model, tokenizer = load_model(spec, device=args.device, log=lambda m: print(m, file=sys.stderr))
    return model, tokenizer, spec.model_id


def gen_config(model, tokenizer, max_new_tokens: int):
    from transformers import GenerationConfig

    eos = model.generation_config.eos_token_id
    return GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos,
                            pad_token_id=tokenizer.pad_token_id)


def one_at_a_time(model, tokenizer, requests):
    import torch

    outputs = []
    with torch.inference_mode():
        for r in requests:
            enc = tokenizer(r.prompt, return_tensors="pt").to(model.device)
            out = model.generate(**enc, generation_config=gen_config(model, tokenizer, budget(r)))
            outputs.append(out[0, enc.input_ids.shape[1]:].tolist())
    return outputs


def padded_batch(model, tokenizer, requests):
    import torch

    with torch.inference_mode():
        enc = tokenizer([r.prompt for r in requests], return_tensors="pt", padding=True).to(model.device)
        out = model.generate(**enc, generation_config=gen_config(model, tokenizer, max(map(budget, requests))))
    return [row[enc.input_ids.shape[1]:].tolist() for row in out]


def generate_batch(model, tokenizer, requests):
    ids = [tokenizer(r.prompt).input_ids for r in requests]
    from transformers import ContinuousBatchingConfig

    from agentville.sim.generation.continuous import CPU_SIZING

    # on a CPU transformers would reserve 60% of the memory for its cache (slow to set up): size it as the worker does
    sizing = CPU_SIZING if model.device.type == "cpu" else {}
    results = model.generate_batch(ids, generation_config=gen_config(model, tokenizer, max(map(budget, requests))),
                                   continuous_batching_config=ContinuousBatchingConfig(**sizing),
                                   progress_bar=False)
    return [results[key].generated_tokens for key in results]


HIT_RATES: dict[str, float | None] = {}  # method key -> the worker's prefix-store hit rate in its last run


def shared_worker(strategy: str, key: str, prefixes: bool = True):
    def run(model, tokenizer, requests):
        from agentville.sim.generation.transformers_backend import TransformersBackend

        extra = {} if prefixes else {"prefix_cache_bytes": 0}
        backend = TransformersBackend(spec=_Spec(), loaded=(model, tokenizer), strategy=strategy, **extra)
        try:
            futures = [backend.submit(r) for r in requests]
            return [f.result(timeout=3600) for f in futures]
        finally:
            HIT_RATES[key] = backend.prefix_hit_rate
            backend.close()
    return run


class _Spec:
    model_id = "bench"


def count_tokens(tokenizer, requests, outputs, eos: set[int]) -> int:
    """Useful tokens: up to each request's own budget and its end of sequence."""
    total = 0
    for request, out in zip(requests, outputs):
        if hasattr(out, "output_tokens"):
            total += out.output_tokens
            continue
        useful = 0
        for token in out[: budget(request)]:
            if token in eos or token == tokenizer.pad_token_id:
                break
            useful += 1
        total += useful
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="HF id, local directory or .gguf (default: embedded)")
    parser.add_argument("--random-arch", choices=sorted(RANDOM_ARCHS), default=None,
                        help="random weights of this shape (no download; for GPU checks)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--skip", nargs="*", default=[], help="methods to skip, e.g. a c")
    parser.add_argument("--mix", choices=sorted(MIXES), default="agents",
                        help="agents: the realistic mix (default); planning: 251-token prompts, 32 new tokens; "
                             "logged: consecutive requests of a fake Smallville run, 2.5 h in")
    args = parser.parse_args()

    import torch

    model, tokenizer, name = load(args)
    eos = model.generation_config.eos_token_id
    eos = set(eos if isinstance(eos, list) else [eos])
    device = model.device.type
    auto = "continuous" if device == "cuda" else "batch"
    other = "batch" if auto == "continuous" else "continuous"
    methods = [("a", "one request at a time", one_at_a_time),
               ("b", "padded generate batch", padded_batch),
               ("c", "generate_batch (CB, one call)", generate_batch),
               ("d", f"shared worker [{auto}] (auto)", shared_worker("auto", "d")),
               ("e", f"shared worker [{other}]", shared_worker(other, "e")),
               ("f", f"shared worker [{auto}], no prefix store", shared_worker("auto", "f", prefixes=False))]
    print(f"model {name} on {device} ({torch.get_num_threads()} threads), torch {torch.__version__}")
    one_at_a_time(model, tokenizer, request_mix(1, seed=99))  # warm-up
    print(f"{'N':>4}  {'method':<38} {'wall s':>8} {'out tok':>8} {'tok/s':>8} {'req/s':>7} {'x (a)':>7} "
          f"{'prefix hit':>10}")
    for n in args.n:
        requests = MIXES[args.mix](n)
        lengths = [len(tokenizer(r.prompt).input_ids) for r in requests]
        print(f"  N={n}: prompts {min(lengths)}-{max(lengths)} tokens (mean {sum(lengths) / n:.0f}); "
              f"{sum(isinstance(r, ChoiceRequest) for r in requests)} choices, "
              f"{sum(isinstance(r, TextRequest) for r in requests)} texts of "
              f"{min((r.max_tokens for r in requests if isinstance(r, TextRequest)), default=0)}-"
              f"{max((r.max_tokens for r in requests if isinstance(r, TextRequest)), default=0)} tokens")
        base = None
        for key, label, method in methods:
            if key in args.skip:
                continue
            start = time.perf_counter()
            outputs = method(model, tokenizer, requests)
            wall = time.perf_counter() - start
            tokens = count_tokens(tokenizer, requests, outputs, eos)
            base = base or (wall if key == "a" else None)
            ratio = f"{base / wall:6.1f}x" if base else "     -"
            hit = HIT_RATES.pop(key, None)
            print(f"{n:>4}  ({key}) {label:<38} {wall:>8.2f} {tokens:>8} {tokens / wall:>8.1f} {n / wall:>7.2f} "
                  f"{ratio:>7} {'-' if hit is None else f'{hit:.0%}':>10}", flush=True)


if __name__ == "__main__":
    main()
