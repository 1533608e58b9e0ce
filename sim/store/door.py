"""The store's door: every text written into any table passes the one redactor first.

The rows of a run hold text from outside this process (what a server answered,
why a request failed, settings, error lines), and a hostile or careless server
can echo the API key into any of them. Rather than redact where each column is
written, the store's connection redacts every text parameter of every INSERT
and UPDATE (``sim.core.secrets``): a table added later is covered by default.
The check costs one function call per write while no secret is known (the fake
and embedded backends), and a regex scan of the row's text when one is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from agentville.sim.core import secrets

_WRITES = ("INSERT", "UPDATE", "REPLACE")


class SealedConnection(sqlite3.Connection):
    """An SQLite connection that redacts remembered secrets from what it writes."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return super().execute(sql, sealed(parameters) if _writes(sql) else parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        if _writes(sql) and secrets.holds_any():
            parameters = (sealed(row) for row in parameters)
        return super().executemany(sql, parameters)


def sealed(parameters: Any) -> Any:
    """A row's parameters with the secrets redacted from its text values (a sequence or a mapping)."""
    if not secrets.holds_any():
        return parameters
    if isinstance(parameters, dict):
        return {name: _redacted(value) for name, value in parameters.items()}
    return tuple(_redacted(value) for value in parameters)


def _redacted(value: Any) -> Any:
    return secrets.redact(value) if isinstance(value, str) else value


def _writes(sql: str) -> bool:
    return sql.lstrip()[:7].upper().startswith(_WRITES)
