"""Reusing the KV cache of prompt prefixes the worker has already computed.

On a CPU, prefill is most of the time a request takes (about 350 tokens/s on
the embedded model, whatever the batch), and agents' prompts repeat long
prefixes: every importance prompt opens with the same instructions and
examples, every prompt of one agent with the same persona block. So the
worker keeps the keys and values of recent prompts in a least-recently-used
store keyed by their token ids, and a new prompt prefills only what follows
the longest prefix it shares with one of them. A prefix found shared by two
prompts is also stored on its own, so it outlives the prompts it came from.

A ``Snapshot`` is one prompt's keys and values for every layer, batch 1, all
positions (sliding-window layers record their past while the snapshot is
made, so a snapshot can be cut at any length). ``batch_cache`` lays several
snapshots of different lengths side by side, left-padded, exactly as a padded
batch prefill would have left them, so the usual decode loop runs on top.
Only plain dynamic layers (full or sliding window) are supported; any other
cache (quantized, linear attention) turns reuse off (``supported``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

DEFAULT_BUDGET_BYTES = 512 * 2**20
SHARED_MIN_TOKENS = 32  # a shared prefix this long is stored by itself (a persona block, a template's examples)


@dataclass(frozen=True)
class Snapshot:
    """Keys and values ([1, heads, length, dim] per layer) of the first ``length`` prompt tokens."""

    keys: tuple[Any, ...]
    values: tuple[Any, ...]
    length: int

    @property
    def nbytes(self) -> int:
        return sum(t.element_size() * t.nelement() for t in self.keys + self.values)

    def copy(self) -> Snapshot:
        """The same positions in tensors of their own (a cut's views would keep the whole original alive)."""
        return Snapshot(tuple(k.clone() for k in self.keys), tuple(v.clone() for v in self.values), self.length)

    def cut(self, length: int) -> Snapshot:
        """The first ``length`` positions (views, no copy)."""
        if length == self.length:
            return self
        return Snapshot(tuple(k[:, :, :length] for k in self.keys), tuple(v[:, :, :length] for v in self.values),
                        length)


def supported(model: Any) -> bool:
    """True when the model's dynamic cache is made of plain full or sliding-window layers only."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer, DynamicSlidingWindowLayer

    try:
        cache = DynamicCache(config=model.config)
    except Exception:
        return False
    return bool(cache.layers) and all(type(layer) in (DynamicLayer, DynamicSlidingWindowLayer)
                                      for layer in cache.layers)


def recording_cache(model: Any, start: Snapshot | None) -> Any:
    """A batch-1 cache that keeps every position (to be snapshotted), holding ``start`` if given."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    for layer in _layers(cache):
        if layer.is_sliding:
            layer.activate_past_recording()
    if start is not None and start.length:
        _fill(cache, list(start.keys), list(start.values), start.length)
    return cache


def snapshot(cache: Any, length: int) -> Snapshot:
    """The recording cache's contents (its tensors are never changed in place, so no copy is needed)."""
    return Snapshot(tuple(layer.keys for layer in cache.layers), tuple(layer.values for layer in cache.layers), length)


def batch_cache(model: Any, rows: list[Snapshot]) -> tuple[Any, Any]:
    """A decode cache with ``rows`` left-padded to the longest, and its attention mask.

    Sliding-window layers hold the last ``window - 1`` positions of the padded
    batch, as they would after a padded prefill; padding keys are zeros and
    masked out.
    """
    import torch
    from transformers import DynamicCache

    longest = max(row.length for row in rows)
    cache = DynamicCache(config=model.config)
    keys, values = [], []
    for index, layer in enumerate(_layers(cache)):
        kept = min(longest, layer.sliding_window - 1) if layer.is_sliding else longest
        keys.append(_stack([_last(row.keys[index], kept) for row in rows]))
        values.append(_stack([_last(row.values[index], kept) for row in rows]))
    _fill(cache, keys, values, longest)
    device = keys[0].device
    mask = torch.zeros(len(rows), longest, dtype=torch.long, device=device)
    for i, row in enumerate(rows):
        mask[i, longest - row.length:] = 1
    return cache, mask


def _layers(cache: Any) -> list[Any]:
    """The cache's layers, all plain dynamic ones where ``supported`` said so."""
    return list(cache.layers)


def _stack(rows: list[Any]) -> Any:
    """Rows side by side; one row as it is (a cache only ever concatenates onto its tensors, never writes them)."""
    import torch

    return rows[0] if len(rows) == 1 else torch.cat(rows)


def _last(tensor: Any, kept: int) -> Any:
    """The last ``kept`` positions of one row, left-padded with zeros when the row is shorter."""
    import torch

    tensor = tensor[:, :, -kept:]
    missing = kept - tensor.shape[2]
    if missing <= 0:
        return tensor
    pad = torch.zeros(*tensor.shape[:2], missing, tensor.shape[3], dtype=tensor.dtype, device=tensor.device)
    return torch.cat([pad, tensor], dim=2)


def _fill(cache: Any, keys: list[Any], values: list[Any], length: int) -> None:
    for layer, k, v in zip(cache.layers, keys, values):
        layer.lazy_initialization(k, v)
        layer.keys, layer.values = k, v
        if layer.is_sliding:
            layer.cumulative_length = length


def common_prefix(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    low, high = 0, n  # a[:low] == b[:low] and a[:high] != b[:high]
    while high - low > 1:
        middle = (low + high) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle
    return low


class PrefixCache:
    """Snapshots of recent prompts, least recently used dropped first, within a byte budget."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES):
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[tuple[int, ...], Snapshot] = OrderedDict()
        self._bytes = 0
        self.prompt_tokens = 0  # tokens of every prompt looked up
        self.reused_tokens = 0  # of which were not computed again

    def longest(self, ids: tuple[int, ...]) -> Snapshot | None:
        """The longest stored prefix of ``ids`` (at least one token is left to compute), cut to fit."""
        best, best_key = 0, None
        for key in self._entries:
            shared = min(common_prefix(key, ids), len(ids) - 1)
            if shared > best:
                best, best_key = shared, key
        self.prompt_tokens += len(ids)
        if best_key is None:
            return None
        self._entries.move_to_end(best_key)
        self.reused_tokens += best
        found = self._entries[best_key].cut(best)
        if best < len(best_key) and best >= SHARED_MIN_TOKENS:  # a prefix two prompts share: keep it on its own
            self.put(ids[:best], found.copy())
        return found

    def put(self, ids: tuple[int, ...], snap: Snapshot) -> None:
        if ids in self._entries:
            self._entries.move_to_end(ids)
            return
        if snap.nbytes > self.budget_bytes:
            return
        self._entries[ids] = snap
        self._bytes += snap.nbytes
        while self._bytes > self.budget_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= dropped.nbytes

    @property
    def hit_rate(self) -> float:
        """Share of prompt tokens whose keys and values came from the store."""
        return self.reused_tokens / self.prompt_tokens if self.prompt_tokens else 0.0
