"""The content-addressed cache of model answers, kept in the event store's SQLite file.

Keys are ``request_key(model, request)``: (model, prompt, parameters, seed).
Re-running a scenario with a warm cache reproduces its log exactly and fast,
which is what replay, resume and fork are built on (DESIGN.md, invariant 4).

Modes: ``read-write`` (default), ``read-only`` (a miss is an error: the replay
would diverge), ``off``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from dataclasses import asdict

import numpy as np

from .requests import Completion, Request, request_key

MODES = ("read-write", "read-only", "off")


class CacheMiss(LookupError):
    """A read-only replay asked for an answer the cache does not hold."""


class LLMCache:
    def __init__(self, db: sqlite3.Connection, mode: str = "read-write"):
        if mode not in MODES:
            raise ValueError(f"unknown cache mode {mode!r} (one of {', '.join(MODES)})")
        self.db, self.mode = db, mode
        self.hits = self.misses = 0

    @property
    def readable(self) -> bool:
        return self.mode != "off"

    @property
    def writable(self) -> bool:
        return self.mode == "read-write"

    def get(self, model_id: str, request: Request) -> Completion | None:
        """The cached answer, or None. A cached fallback counts as a miss unless replaying read-only."""
        if not self.readable:
            return None
        row = self.db.execute("SELECT response FROM llm_cache WHERE key=?",
                              (request_key(model_id, request),)).fetchone()
        answer = json.loads(row[0]) if row else None
        if answer is not None and answer.get("fallback") and self.writable:
            answer = None  # worth asking the model again
        if answer is None:
            self.misses += 1
            if self.mode == "read-only":
                raise CacheMiss(f"read-only replay: no cached answer for this '{request.purpose}' request of "
                                f"{request.agent or 'the engine'} (model {model_id}); the run being replayed used "
                                f"another scenario, seed, model or settings")
            return None
        self.hits += 1
        return Completion(answer["text"], answer.get("prompt_tokens", 0), answer.get("output_tokens", 0),
                          fallback=answer.get("fallback", False))

    def put(self, model_id: str, request: Request, completion: Completion) -> None:
        """Remember an answer; committed with the event log's next transaction."""
        if not self.writable:
            return
        response = {"text": completion.text, "prompt_tokens": completion.prompt_tokens,
                    "output_tokens": completion.output_tokens, "fallback": completion.fallback}
        payload = {k: v for k, v in asdict(request).items() if k not in ("purpose", "agent", "default")}
        self.db.execute("INSERT OR REPLACE INTO llm_cache VALUES (?,?,?,?,?)",
                        (request_key(model_id, request), model_id, json.dumps(payload, ensure_ascii=False),
                         json.dumps(response, ensure_ascii=False), dt.datetime.now().isoformat(timespec="seconds")))

    # -- embeddings ---------------------------------------------------------
    def get_vectors(self, model_id: str, texts: list[str]) -> dict[str, np.ndarray]:
        if not self.readable or not texts:
            return {}
        keys = {_embedding_key(model_id, t): t for t in texts}
        found = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys)[start:start + 500]
            rows = self.db.execute(f"SELECT key, vector FROM embedding_cache WHERE key IN ({','.join('?' * len(chunk))})",
                                   chunk)
            for key, blob in rows:
                found[keys[key]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_vectors(self, model_id: str, texts: list[str], vectors: np.ndarray) -> None:
        if not self.writable:
            return
        self.db.executemany("INSERT OR REPLACE INTO embedding_cache VALUES (?,?,?)",
                            [(_embedding_key(model_id, t), model_id, v.astype(np.float32).tobytes())
                             for t, v in zip(texts, vectors)])

    def commit(self) -> None:
        if self.writable:
            self.db.commit()


def _embedding_key(model_id: str, text: str) -> str:
    return hashlib.sha256(f"{model_id}\x1f{text}".encode()).hexdigest()
