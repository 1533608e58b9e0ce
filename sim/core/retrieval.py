"""How memories are scored: recency, min-max, exact integer dot products.

The memory stream (``agents.memory.stream``) ranks an agent's memories with
these, and the dashboard shows the same scores from the log; both read them
from here, so a change of the decay or the normalisation reaches both.

Embeddings are kept as whole numbers (``quantized``): their dot products are
then exact, so a ranking cannot depend on which BLAS kernel the CPU picks
(float products of the same rows differed in the last bit from one machine
to the next, which turned exact ties into different orders and different logs).
"""

from __future__ import annotations

import numpy as np

RECENCY_DECAY = 0.995  # recency factor per game hour since last access
QUANTUM = 2.0 ** 20  # an embedding's largest component, as a whole number (see ``quantized``)


def quantized(vector: np.ndarray) -> np.ndarray:
    """The vector's direction as whole numbers (float64), the largest component +-QUANTUM.

    Products of two such vectors are sums of integers below 2**53, exact in
    any order: the same on every CPU. The rounding (about a millionth of the
    largest component) is far below what tells memories apart.
    """
    values = np.asarray(vector, dtype=np.float64).ravel()
    top = float(np.max(np.abs(values))) if values.size else 0.0
    return np.rint(values * (QUANTUM / top)) if top > 0 else np.zeros(values.shape)


def exact_norm(vector: np.ndarray) -> float:
    """Length of a ``quantized`` vector: its squared length is an exact integer, so the root is the same anywhere."""
    return float(np.sqrt(np.dot(vector, vector)))


def recency_scores(last_access: np.ndarray, now: float, decay: float = RECENCY_DECAY) -> np.ndarray:
    """``decay ** game hours since last access``."""
    return decay ** ((now - np.asarray(last_access, dtype=np.float64)) / 3600.0)


def minmax(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Scale the (masked) values to [0, 1]; all-equal values become 0.5 (they do not discriminate)."""
    values = np.asarray(values)
    if mask is None:
        mask = np.ones(values.shape, dtype=bool)
    if not mask.any():
        return np.zeros_like(values, dtype=np.float64)
    chosen = values[mask]
    low, high = float(chosen.min()), float(chosen.max())
    if high - low < 1e-12:
        return np.full(values.shape, 0.5)
    return (values - low) / (high - low)
