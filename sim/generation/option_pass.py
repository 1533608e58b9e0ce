"""The option pass of scored choices: the options of several prompts in one forward.

A scored choice (``scoring``) needs the model's next-token log-probabilities
after every token of every option, each option read right after its prompt.
Once each prompt is prefilled (``prefix_cache``; a prefill cannot be shared),
its options are run in one of two layouts, several prompts per forward:

* ``copies``: one row per (prompt, option) pair, the prompt's keys and values
  copied into each row (``batch_cache``) and a plain padding mask. The layout
  of old, kept for models whose attention takes no custom mask.
* ``shared`` (tree attention): one row per prompt, its options one after
  another; a 4D mask lets each option token see the prompt and the earlier
  tokens of its own option only (within the sliding window on sliding
  layers), and position ids restart at the prompt's length for each option.
  Every option then sees exactly what it would see alone, while the prompt's
  keys and values exist once per prompt instead of once per option.

Both agree with scoring each prompt alone up to float rounding
(tests/test_option_pass.py). A pass is cut where its padded rows would hold
more than ``TOKENS_PER_PASS`` option tokens: the vocabulary projection of
every token is kept, and 262k logits a token add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .prefix_cache import Snapshot, batch_cache

LAYOUTS = ("shared", "copies")
TOKENS_PER_PASS = 256  # rows x padded length of one forward (bench/choices.py)


@dataclass(frozen=True)
class Prompted:
    """A prefilled prompt (its keys and values) and the token ids of each of its options after it."""

    snap: Snapshot
    options: list[list[int]]


def option_logprobs(model: Any, cache_arg: str, prompts: list[Prompted], layout: str = "shared",
                    pad_id: int = 0) -> list[Any]:
    """For each prompt, log-probabilities [options, longest option, vocab] after each option token."""
    run = _shared if layout == "shared" else _copies
    out: list[Any] = []
    for group in _passes(prompts, layout):
        out += run(model, cache_arg, group, pad_id)
    return out


def _passes(prompts: list[Prompted], layout: str) -> list[list[Prompted]]:
    """Consecutive groups whose padded rows stay within ``TOKENS_PER_PASS`` (at least one prompt each)."""
    def cost(group: list[Prompted]) -> int:
        if layout == "shared":
            return len(group) * max(sum(map(len, p.options)) for p in group)
        return sum(len(p.options) for p in group) * max(len(o) for p in group for o in p.options)

    groups: list[list[Prompted]] = []
    for prompt in prompts:
        if groups and cost(groups[-1] + [prompt]) <= TOKENS_PER_PASS:
            groups[-1].append(prompt)
        else:
            groups.append([prompt])
    return groups


def _copies(model: Any, cache_arg: str, prompts: list[Prompted], pad_id: int) -> list[Any]:
    import torch

    snaps = [p.snap for p in prompts for _ in p.options]
    options = [o for p in prompts for o in p.options]
    cache, prompt_mask = batch_cache(model, snaps)
    longest = max(map(len, options))
    device = prompt_mask.device
    tokens = torch.tensor([o + [pad_id] * (longest - len(o)) for o in options], device=device)
    option_mask = torch.tensor([[1] * len(o) + [0] * (longest - len(o)) for o in options], device=device)
    positions = torch.tensor([s.length for s in snaps], device=device).unsqueeze(1) + torch.arange(longest,
                                                                                                  device=device)
    logits = model(input_ids=tokens, attention_mask=torch.cat([prompt_mask, option_mask], dim=1),
                   position_ids=positions, use_cache=True, **{cache_arg: cache}).logits
    out, start = [], 0
    for p in prompts:
        width = max(map(len, p.options))
        out.append(torch.log_softmax(logits[start:start + len(p.options), :width].float(), dim=-1))
        start += len(p.options)
    return out


def _shared(model: Any, cache_arg: str, prompts: list[Prompted], pad_id: int) -> list[Any]:
    import torch

    cache, prompt_mask = batch_cache(model, [p.snap for p in prompts])
    device = prompt_mask.device
    rows = [_tree_row(p.options) for p in prompts]
    width = max(len(tokens) for tokens, _, _ in rows)
    tokens = torch.tensor([t + [pad_id] * (width - len(t)) for t, _, _ in rows], device=device)
    owner = torch.tensor([o + [-1] * (width - len(o)) for _, o, _ in rows], device=device)
    offset = torch.tensor([j + [0] * (width - len(j)) for _, _, j in rows], device=device)
    lengths = torch.tensor([p.snap.length for p in prompts], device=device)
    masks = {}
    for layer in cache.layers:
        window = layer.sliding_window if layer.is_sliding else None
        if window not in masks:
            kept = layer.keys.shape[2]  # the prompt positions this layer holds (the last window - 1 if sliding)
            masks[window] = _additive(_tree_mask(owner, offset, lengths, kept, window), model.dtype)
    attention = next(iter(masks.values())) if len(masks) == 1 else {
        "full_attention": masks[None], "sliding_attention": next(m for w, m in masks.items() if w is not None)}
    logits = model(input_ids=tokens, attention_mask=attention, position_ids=lengths.unsqueeze(1) + offset,
                   use_cache=True, **{cache_arg: cache}).logits
    out = []
    for row, p in enumerate(prompts):
        longest = max(map(len, p.options))
        picked = torch.zeros(len(p.options), longest, logits.shape[-1], dtype=logits.dtype, device=device)
        start = 0
        for i, ids in enumerate(p.options):
            picked[i, :len(ids)] = logits[row, start:start + len(ids)]
            start += len(ids)
        out.append(torch.log_softmax(picked.float(), dim=-1))
    return out


def _tree_row(options: list[list[int]]) -> tuple[list[int], list[int], list[int]]:
    """One row holding every option: its tokens, which option each belongs to, and its place in that option."""
    tokens, owner, offset = [], [], []
    for i, ids in enumerate(options):
        tokens += ids
        owner += [i] * len(ids)
        offset += list(range(len(ids)))
    return tokens, owner, offset


def _tree_mask(owner: Any, offset: Any, lengths: Any, kept: int, window: int | None) -> Any:
    """Which keys each option token may see ([rows, 1, tokens, kept + tokens], True = attend).

    Keys are the ``kept`` last prompt positions of the left-padded batch, then
    the row's option tokens. A prompt key is seen if it is a real token (not
    padding) within the window; an option key if it is an earlier (or the
    same) token of the same option. Padding tokens see only themselves.
    """
    import torch

    real = owner >= 0
    query_position = lengths.unsqueeze(1) + offset  # [rows, tokens]
    key_position = lengths.unsqueeze(1) - kept + torch.arange(kept, device=owner.device)  # [rows, kept]
    prompt = (key_position >= 0).unsqueeze(1) & real.unsqueeze(2)
    same = (owner.unsqueeze(2) == owner.unsqueeze(1)) & real.unsqueeze(2)
    earlier = offset.unsqueeze(2) >= offset.unsqueeze(1)
    options = same & earlier
    if window is not None:
        prompt &= (query_position.unsqueeze(2) - key_position.unsqueeze(1)) < window
        options &= (offset.unsqueeze(2) - offset.unsqueeze(1)) < window
    options |= torch.eye(owner.shape[1], dtype=torch.bool, device=owner.device)  # padding sees itself
    return torch.cat([prompt, options], dim=2).unsqueeze(1)


def _additive(mask: Any, dtype: Any) -> Any:
    """A boolean mask as the additive float mask both eager and SDPA attention accept."""
    import torch

    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, torch.finfo(dtype).min)
