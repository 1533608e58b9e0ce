"""The pieces of the CPU decode loop: how to split a batch, sample a token, stop a text.

Pure functions over tensors and numbers, kept apart from the worker thread
in ``transformers_backend`` so each can be read and tested on its own.
"""

from __future__ import annotations

from typing import Any

TOP_K = 64  # sampling candidates per step; keeps top-p cheap on a 262k vocabulary

# Relative CPU costs measured on the embedded model (2 cores): prefill runs about
# 350 tokens/s whatever the batch; a decode step costs about 0.17 s plus 0.01 s
# per row. Only their ratio matters to the split.
PREFILL_S_PER_TOKEN = 1 / 350
STEP_S, STEP_S_PER_ROW = 0.17, 0.01


def batch_cost(lengths: list[int], budgets: list[int]) -> float:
    """Estimated seconds to prefill (padded to the longest) and decode one micro-batch."""
    rows = len(lengths)
    return rows * max(lengths) * PREFILL_S_PER_TOKEN + max(budgets) * (STEP_S + STEP_S_PER_ROW * rows)


def best_split(lengths: list[int], budgets: list[int], max_batch: int) -> list[int]:
    """Cut points (indices) splitting length-sorted requests into batches of least total cost.

    Dynamic programming over contiguous runs: O(n * max_batch) cost evaluations.
    """
    n = len(lengths)
    best = [0.0] + [float("inf")] * n
    previous = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - max_batch), end):
            cost = best[start] + batch_cost(lengths[start:end], budgets[start:end])
            if cost < best[end]:
                best[end], previous[end] = cost, start
    cuts, end = [], n
    while end > 0:
        end = previous[end]
        if end > 0:
            cuts.append(end)
    return sorted(cuts)


def speed_up_output_layer(model: Any) -> Any:
    """Swap the vocabulary projection for one that multiplies as ``W @ x.T``; return the original.

    A decode step multiplies a few hidden rows by the whole output matrix
    (262k x 640 for Gemma 3). On CPU, MKL does ``x @ W.T`` with 3-32 rows
    3-4x slower than the same product as ``(W @ x.T).T`` (bench/generation.py
    and the numbers in its docstring), and this product dominates each step.
    """
    import torch

    head = model.get_output_embeddings()
    if not isinstance(head, torch.nn.Linear):
        return None

    class TallSkinnyHead(torch.nn.Module):
        def __init__(self, linear: torch.nn.Linear):
            super().__init__()
            self.weight, self.bias = linear.weight, linear.bias

        def forward(self, hidden: torch.Tensor) -> torch.Tensor:
            rows = hidden.reshape(-1, hidden.shape[-1])
            out = (self.weight @ rows.T).T
            if self.bias is not None:
                out = out + self.bias
            return out.reshape(*hidden.shape[:-1], out.shape[-1])

    model.set_output_embeddings(TallSkinnyHead(head))
    return head


def cache_of(output: Any) -> Any:
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids = model.generation_config.eos_token_id
    ids = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def sample(logits: Any, temperatures: Any, top_ps: Any, generators: list[Any]) -> list[int]:
    """One token per row: greedy where temperature is 0, else top-k/top-p sampling with the row's generator."""
    import torch

    values, indices = torch.topk(logits, min(TOP_K, logits.shape[-1]), dim=-1)
    greedy = indices[:, 0].tolist()
    scaled = values / temperatures.clamp(min=1e-5).unsqueeze(1)
    probs = torch.softmax(scaled, dim=-1)
    cumulative = probs.cumsum(dim=-1)
    probs = probs.masked_fill(cumulative - probs > top_ps.unsqueeze(1), 0.0)
    tokens = []
    for row, generator in enumerate(generators):
        if float(temperatures[row]) <= 0:
            tokens.append(greedy[row])
            continue
        pick = torch.multinomial(probs[row], 1, generator=generator)
        tokens.append(int(indices[row, pick]))
    return tokens


def apply_stops(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    """Cut ``text`` at the first stop string; True if one was found.

    Callers strip leading white space first: a base model often opens with a
    newline, which must not count as a stop before it has said anything.
    """
    cut = min((text.find(s) for s in stops if s and s in text), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
