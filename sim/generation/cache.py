"""The content-addressed cache of model answers, kept in the event store's SQLite file.

Keys are ``request_key(model, request)``: (model, prompt, parameters, seed).
Re-running a scenario with a warm cache reproduces its log exactly and fast,
which is what replay, resume and fork are built on (docs/ARCHITECTURE.md, invariant 5).

Modes: ``read-write`` (default), ``read-only`` (a miss is an error: the replay
would diverge), ``off``. A cached *fallback* (the logged default used when the
model failed) is asked again by a new read-write run, which may get a real
answer this time; a run that re-lives a stored log (resume, fork) sets
``retry_fallbacks`` off, since the log it must reproduce used the fallback.

The cache owns its persistence: its tables are defined here (the event store's
schema holds only runs and events) and created when the cache is opened on a
writable connection; an older store that has them already opens as it is, and
a read-only connection (the dashboard's ``mode=ro``) reads them and never tries
to create them. Every write commits at once in its own short transaction, so
no write transaction is left open while the engine waits for a model, and
readers of the file see a cached answer as soon as it is put.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from dataclasses import asdict
from typing import Any

import numpy as np

from .requests import Completion, Request, request_key

MODES = ("read-write", "read-only", "off")
TABLES = ("llm_cache", "embedding_cache")
SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_cache (
    key        TEXT PRIMARY KEY,
    model      TEXT NOT NULL,
    request    TEXT NOT NULL,
    response   TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS embedding_cache (
    key    TEXT PRIMARY KEY,
    model  TEXT NOT NULL,
    vector BLOB NOT NULL
);
"""
_LOOKUP_CHUNK = 500  # keys per query (SQLite limits the number of parameters)


class CacheMiss(LookupError):
    """A read-only replay asked for an answer the cache does not hold."""


class LLMCache:
    """Model answers and embeddings by content address, in ``db`` (the event store's connection).

    ``read_only_store`` says ``db`` cannot be written (opened ``mode=ro``): the
    tables are then looked for, never created, and nothing is put. ``reader``
    builds such a lookup-only cache.
    """

    def __init__(self, db: sqlite3.Connection, mode: str = "read-write", *, read_only_store: bool = False):
        if mode not in MODES:
            raise ValueError(f"unknown cache mode {mode!r} (one of {', '.join(MODES)})")
        self.db, self.mode, self.read_only_store = db, mode, read_only_store
        self.retry_fallbacks = True
        self.hits = 0
        if read_only_store:
            self._present = _existing_tables(db)
        else:
            create_tables(db)
            self._present = set(TABLES)

    @classmethod
    def reader(cls, db: sqlite3.Connection) -> LLMCache:
        """A lookup-only cache over a connection that must not be written (a read-only event store)."""
        return cls(db, "read-only", read_only_store=True)

    @property
    def readable(self) -> bool:
        return self.mode != "off"

    @property
    def writable(self) -> bool:
        return self.mode == "read-write" and not self.read_only_store

    def get(self, model_id: str, request: Request) -> Completion | None:
        """The cached answer, or None. A cached fallback is a miss when ``retry_fallbacks`` and writable."""
        if not self.readable:
            return None
        row = None
        if "llm_cache" in self._present:
            row = self.db.execute("SELECT response FROM llm_cache WHERE key=?",
                                  (request_key(model_id, request),)).fetchone()
        answer = _answer(row[0]) if row else None
        if answer is not None and answer.get("fallback") and self.writable and self.retry_fallbacks:
            answer = None  # worth asking the model again
        if answer is None:
            if self.mode == "read-only":
                why = ("its cached answer is damaged (changed outside Agentville)" if row else
                       "the run being replayed used another scenario, seed, model or settings")
                raise CacheMiss(f"read-only replay: no cached answer for this '{request.purpose}' request of "
                                f"{request.agent or 'the engine'} (model {model_id}); {why}")
            return None  # a damaged row is a miss too: the model is asked again and the row rewritten
        self.hits += 1
        return Completion(answer["text"], answer.get("prompt_tokens", 0), answer.get("output_tokens", 0),
                          fallback=answer.get("fallback", False), raw=answer.get("raw"))

    def put(self, model_id: str, request: Request, completion: Completion) -> None:
        """Remember an answer, committed at once (its own transaction)."""
        if not self.writable:
            return
        response = {"text": completion.text, "prompt_tokens": completion.prompt_tokens,
                    "output_tokens": completion.output_tokens, "fallback": completion.fallback}
        if completion.raw is not None:  # a re-lived run must log the raw answer the fresh one did
            response["raw"] = completion.raw
        payload = {k: v for k, v in asdict(request).items() if k not in ("purpose", "agent", "default")}
        row = (request_key(model_id, request), model_id, json.dumps(payload, ensure_ascii=False),
               json.dumps(response, ensure_ascii=False), dt.datetime.now().isoformat(timespec="seconds"))
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO llm_cache VALUES (?,?,?,?,?)", row)

    # -- embeddings ---------------------------------------------------------
    def get_vectors(self, model_id: str, texts: list[str]) -> dict[str, np.ndarray]:
        """The cached embeddings of ``texts`` by ``model_id`` (text -> vector), for those that have one."""
        if not self.readable or not texts or "embedding_cache" not in self._present:
            return {}
        keys = {_embedding_key(model_id, t): t for t in texts}
        wanted = list(keys)
        found = {}
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[start:start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"SELECT key, vector FROM embedding_cache WHERE key IN ({marks})", chunk)
            for key, blob in rows:
                if isinstance(blob, bytes) and blob and len(blob) % 4 == 0:  # else damaged: computed again
                    found[keys[key]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_vectors(self, model_id: str, texts: list[str], vectors: np.ndarray) -> None:
        """Remember embeddings (one row of ``vectors`` per text), committed at once (one transaction)."""
        if not self.writable or not len(texts):
            return
        rows = [(_embedding_key(model_id, t), model_id, np.asarray(v, dtype=np.float32).tobytes())
                for t, v in zip(texts, vectors)]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO embedding_cache VALUES (?,?,?)", rows)


def create_tables(db: sqlite3.Connection) -> None:
    """Create the cache's tables where they are missing (an older store has them already)."""
    with db:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)


def _existing_tables(db: sqlite3.Connection) -> set[str]:
    found = db.execute(f"SELECT name FROM sqlite_master WHERE type='table' AND name IN ({','.join('?' * len(TABLES))})",
                       TABLES)
    return {name for (name,) in found}


def _embedding_key(model_id: str, text: str) -> str:
    return hashlib.sha256(f"{model_id}\x1f{text}".encode()).hexdigest()


def _answer(text: str) -> dict[str, Any] | None:
    """A cached answer as stored by ``put``, or None when the row was damaged (not JSON, no text)."""
    try:
        answer = json.loads(text)
    except (TypeError, ValueError):
        return None
    return answer if isinstance(answer, dict) and isinstance(answer.get("text"), str) else None
