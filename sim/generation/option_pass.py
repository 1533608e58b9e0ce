"""The option pass of scored choices: the options of several prompts in one forward.

A scored choice (``scoring``) needs the model's next-token log-probabilities
after every token of every option, each option read right after its prompt.
Once each prompt is prefilled (``prefix_cache``; a prefill cannot be shared),
its options are run in one of two layouts, several prompts per forward:

* ``copies``: one row per (prompt, option) pair, the prompt's keys and values
  copied into each row (``batch_cache``) and a plain padding mask. The layout
  of old, kept for models whose attention takes no custom mask.
* ``shared`` (tree attention): one row per prompt holding its options as a
  token trie (options that start alike share those tokens: "1" and "10");
  a 4D mask lets each token see the prompt and its own ancestors only
  (within the sliding window on sliding layers), and its position id is the
  prompt's length plus its depth. Every option then sees exactly what it
  would see alone, while the prompt's keys and values exist once per prompt
  instead of once per option, and a shared start is computed once.

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
TOKENS_PER_PASS = 256  # rows x padded length of one forward: about 270 MB of float32 logits at a 262k vocabulary


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
            return len(group) * max(len(Trie(p.options).tokens) for p in group)
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
    tries = [Trie(p.options) for p in prompts]
    width = max(len(t.tokens) for t in tries)
    tokens = torch.tensor([t.tokens + [pad_id] * (width - len(t.tokens)) for t in tries], device=device)
    depth = torch.tensor([t.depth + [0] * (width - len(t.depth)) for t in tries], device=device)
    seen = torch.zeros(len(tries), width, width, dtype=torch.bool, device=device)
    for row, trie in enumerate(tries):
        seen[row, :len(trie.tokens), :len(trie.tokens)] = torch.tensor(trie.sees, dtype=torch.bool)
    lengths = torch.tensor([p.snap.length for p in prompts], device=device)
    masks = {}
    for layer in cache.layers:
        window = layer.sliding_window if layer.is_sliding else None
        if window not in masks:
            kept = layer.keys.shape[2]  # the prompt positions this layer holds (the last window - 1 if sliding)
            masks[window] = _additive(_tree_mask(seen, depth, lengths, kept, window), model.dtype)
    attention = next(iter(masks.values())) if len(masks) == 1 else {
        "full_attention": masks[None], "sliding_attention": next(m for w, m in masks.items() if w is not None)}
    logits = model(input_ids=tokens, attention_mask=attention, position_ids=lengths.unsqueeze(1) + depth,
                   use_cache=True, **{cache_arg: cache}).logits
    out = []
    for row, trie in enumerate(tries):
        nodes = torch.log_softmax(logits[row, :len(trie.tokens)].float(), dim=-1)
        out.append(nodes[torch.tensor(trie.paths(), device=device)])
    return out


class Trie:
    """The options of one prompt as a token trie: options that start alike share those tokens.

    ``tokens[n]`` is node ``n``'s token, ``depth[n]`` its place in its options
    (0 = first token), ``sees[n][m]`` whether ``m`` is ``n`` or one of its
    ancestors (a parent comes before its children). Ratings "1".."10" are ten
    options of 21 tokens after a space, but 11 nodes: the space, nine digits,
    and the "0" after "1".
    """

    def __init__(self, options: list[list[int]]):
        self.tokens: list[int] = []
        self.depth: list[int] = []
        self.sees: list[list[bool]] = []
        self._children: dict[tuple[int, int], int] = {}  # (parent node or -1, token) -> node
        self._paths: list[list[int]] = []
        for ids in options:
            path: list[int] = []
            parent = -1
            for token in ids:
                if (parent, token) not in self._children:
                    self._add(parent, token, len(path))
                parent = self._children[(parent, token)]
                path.append(parent)
            self._paths.append(path)

    def _add(self, parent: int, token: int, depth: int) -> None:
        node = len(self.tokens)
        self._children[(parent, token)] = node
        self.tokens.append(token)
        self.depth.append(depth)
        for row in self.sees:
            row.append(False)
        self.sees.append([*(self.sees[parent][:node] if parent >= 0 else [False] * node), True])

    def paths(self) -> list[list[int]]:
        """Each option's nodes, padded with node 0 to the longest option (``option_scores`` never reads those)."""
        longest = max(map(len, self._paths))
        return [path + [0] * (longest - len(path)) for path in self._paths]


def _tree_mask(seen: Any, depth: Any, lengths: Any, kept: int, window: int | None) -> Any:
    """Which keys each option token may see ([rows, 1, tokens, kept + tokens], True = attend).

    Keys are the ``kept`` last prompt positions of the left-padded batch, then
    the row's trie nodes. A prompt key is seen if it is a real token (not
    padding) within the window; a node if it is the token itself or one of
    its ancestors (``seen``), within the window. Padding sees only itself.
    """
    import torch

    real = seen.diagonal(dim1=1, dim2=2)  # every node sees itself; padding does not (yet)
    query_position = lengths.unsqueeze(1) + depth  # [rows, tokens]
    key_position = lengths.unsqueeze(1) - kept + torch.arange(kept, device=seen.device)  # [rows, kept]
    prompt = (key_position >= 0).unsqueeze(1) & real.unsqueeze(2)
    nodes = seen.clone()
    if window is not None:
        prompt &= (query_position.unsqueeze(2) - key_position.unsqueeze(1)) < window
        nodes &= (depth.unsqueeze(2) - depth.unsqueeze(1)) < window
    nodes |= torch.eye(seen.shape[1], dtype=torch.bool, device=seen.device)  # padding sees itself
    return torch.cat([prompt, nodes], dim=2).unsqueeze(1)


def _additive(mask: Any, dtype: Any) -> Any:
    """A boolean mask as the additive float mask both eager and SDPA attention accept."""
    import torch

    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, torch.finfo(dtype).min)
