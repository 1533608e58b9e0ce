"""Event logs as tables people analyse: one row per event, or one typed table per event kind.

The log stores each event's ``data`` as JSON; analysts want columns. A *tidy*
table holds the events of one kind, with every field of that kind's payload
(``sim.core.events``) as a typed column: ints stay ints, floats floats, bools bools,
strings strings; lists and dicts are JSON text (the same in Parquet and CSV,
``json.loads`` gives them back). Columns come from the payload declarations,
not from the rows, so a field missing in some rows is NA there, and a kind
with no events still has all its columns and dtypes: tables of different runs
concatenate cleanly. ``wall`` facts (latencies, cache hits), free-form by
design, become ``wall_*`` columns typed from their values.

    from agentville.sim.analysis.export import run_ids, tidy_tables
    tables = tidy_tables(store, run_ids(store))      # {kind: DataFrame}, every run
"""

from __future__ import annotations

import json
import logging
import types
import typing
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentville.sim.core import events
from agentville.sim.core.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from agentville.sim.store.eventstore import EventStore

BASE_COLUMNS = ["run_id", "seq", "sim_time", "time", "agent"]
JSON = "json"  # a field kept as JSON text: lists, dicts, Any
Row = tuple[str, int, float, str, str | None, dict[str, Any], dict[str, Any] | None]
"""(run_id, seq, sim_time, kind, agent, data, wall) of one event."""


def run_ids(store: EventStore) -> list[str]:
    """Every run of a store, oldest first."""
    return [run["run_id"] for run in reversed(store.runs())]


def field_dtypes(kind: str) -> dict[str, str]:
    """A kind's payload fields (every one, optional ones too) and the pandas dtype of each, from ``sim.core.events``."""
    hints = typing.get_type_hints(events.PAYLOADS[kind])  # NotRequired[...] unwrapped
    return {name: _dtype(hint) for name, hint in hints.items()}


def _column(field: str) -> str:
    """A data field's column name; a field named like a base column (none today) would be ``data_*``."""
    return f"data_{field}" if field in BASE_COLUMNS else field


def _dtype(hint: Any) -> str:
    """The pandas dtype for a payload annotation (``X | None`` as ``X``; a Literal as its values' type)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        kept = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _dtype(kept[0]) if len(kept) == 1 else JSON
    if origin is typing.Literal:
        return _dtype(type(typing.get_args(hint)[0]))
    return {bool: "boolean", int: "Int64", float: "float64", str: "str"}.get(hint, JSON)


def event_rows(store: EventStore, runs: Sequence[str], *, kinds: Sequence[str] | None = None,
               agent: str | None = None) -> Iterator[Row]:
    """The events of several runs, run after run, each in log order, as plain tuples."""
    for run_id in runs:
        for e in store.iter_events(run_id, kinds=list(kinds) if kinds else None, agent=agent):
            yield e.run_id, e.seq, e.sim_time, e.kind, e.agent, e.data, e.wall


def sim_starts(store: EventStore, runs: Iterable[str]) -> dict[str, Any]:
    """Each run's simulated start, to turn ``sim_time`` seconds into the simulated clock's date-time."""
    import pandas as pd

    return {run_id: pd.Timestamp(store.run(run_id)["sim_start"]) for run_id in runs}


def all_events(store: EventStore, runs: Sequence[str], **filters: Any) -> pd.DataFrame:
    """``EventStore.events`` for several runs in one frame (its ``run_id`` column tells them apart)."""
    import pandas as pd

    return pd.concat([store.events(run_id, **filters) for run_id in runs], ignore_index=True)


def flat(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per event, ``data`` and ``wall`` as JSON text: the plain CSV or Parquet export."""
    return frame.assign(data=frame["data"].map(lambda d: json.dumps(d, ensure_ascii=False)),
                        wall=frame["wall"].map(lambda w: json.dumps(w) if w else None))


def tidy_tables(store: EventStore, runs: str | Sequence[str] | None = None, *, kinds: Sequence[str] | None = None,
                agent: str | None = None, limit: int | None = None) -> dict[str, pd.DataFrame]:
    """One typed table per kind (all kinds, or those named) of the given runs (default: the newest run).

    Each table has run_id, seq, sim_time, time (the simulated date-time),
    agent, a column per payload field, then ``wall_*`` columns where the
    kind's events carry wall-clock facts. ``limit`` keeps the first events
    of the log, as ``agentville events --limit`` does.
    """
    if runs is None:
        runs = [store.run()["run_id"]]
    elif isinstance(runs, str):
        runs = [runs]
    chosen = list(kinds) if kinds else list(events.PAYLOADS)
    rows: dict[str, list[Row]] = {kind: [] for kind in chosen}
    for row in islice(event_rows(store, runs, kinds=kinds, agent=agent), limit):
        rows[row[3]].append(row)
    starts = sim_starts(store, runs)
    return {kind: kind_table(kind, rows[kind], starts) for kind in chosen}


def kind_table(kind: str, rows: list[Row], starts: dict[str, Any]) -> pd.DataFrame:
    """The tidy table of one kind's rows (``starts``: each run's simulated start)."""
    import pandas as pd

    base = pd.DataFrame({
        "run_id": pd.Series([r[0] for r in rows], dtype="str"),
        "seq": pd.Series([r[1] for r in rows], dtype="int64"),
        "sim_time": pd.Series([r[2] for r in rows], dtype="float64"),
        "agent": pd.Series([r[4] for r in rows], dtype="str"),
    })
    start = pd.Series([starts[r[0]] for r in rows], dtype="datetime64[ns]")
    base.insert(3, "time", (start + pd.to_timedelta(base["sim_time"], unit="s")).astype("datetime64[ns]"))
    payload = {_column(field): typed([r[5].get(field) for r in rows], dtype, f"{kind}.{field}")
               for field, dtype in field_dtypes(kind).items()}
    walls = [r[6] or {} for r in rows]
    wall = {}
    for key in sorted({key for w in walls for key in w}):
        values = [w.get(key) for w in walls]
        wall[f"wall_{key}"] = typed(values, _inferred(values))
    return pd.concat([base, pd.DataFrame(payload | wall, index=base.index)], axis=1)


def typed(values: list[Any], dtype: str, name: str = "") -> pd.Series:
    """A column of ``dtype`` (JSON: lists and dicts as JSON text), absent values as NA.

    A value off its declared type (a store edited by hand) keeps the column as
    text rather than losing the value, and says so in one warning line.
    """
    import pandas as pd

    if dtype == JSON:
        values = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
        dtype = "str"
    try:
        return pd.Series(values, dtype=dtype)
    except (TypeError, ValueError):
        odd = [v for v in values if v is not None and not _fits(v, dtype)]
        logging.getLogger(__name__).warning("%s: %d value%s not %s (e.g. %r): the column is exported as text", name,
                                            len(odd), " is" if len(odd) == 1 else "s are", dtype, odd[:1] or values[:1])
        return pd.Series([None if v is None else str(v) for v in values], dtype="str")


def _fits(value: Any, dtype: str) -> bool:
    """Whether one value can stand in a column of ``dtype``."""
    import pandas as pd

    try:
        pd.Series([value], dtype=dtype)
    except (TypeError, ValueError):
        return False
    return True


def _inferred(values: list[Any]) -> str:
    """The dtype of a free-form (``wall``) field, from the values it holds."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "boolean"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "Int64"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "float64"
    if all(isinstance(v, str) for v in present):
        return "str"
    return JSON


def write_parquet_dir(tables: dict[str, pd.DataFrame], folder: str | Path) -> list[Path]:
    """Write each table to ``folder/KIND.parquet`` (the folder is made; its other files are left alone)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder}: is a file; a tidy Parquet export writes a folder of KIND.parquet files")
    if not folder.absolute().parent.is_dir():
        raise UserError(f"{folder}: no folder {folder.absolute().parent} to make it in")
    folder.mkdir(exist_ok=True)
    paths = []
    for kind, table in tables.items():
        paths.append(folder / f"{kind}.parquet")
        table.to_parquet(paths[-1], index=False)
    return paths
