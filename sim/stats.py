"""LLM usage of a run, per purpose, from its ``llm_call`` events (``events.LLM_CALL``, payload ``events.LLMCall``)."""

from __future__ import annotations

import pandas as pd

from .events import LLM_CALL

COLUMNS = ["calls", "cache_hit_%", "fallbacks", "retries", "prompt_tok", "output_tok", "tok_per_s",
           "p50_ms", "p90_ms", "p99_ms", "queue_p50_ms"]


def llm_stats(calls: pd.DataFrame) -> pd.DataFrame:
    """One row per purpose plus a total row. ``calls`` is ``store.events(kinds=[events.LLM_CALL])``.

    Rows of other kinds in ``calls`` are left out, so a whole run's events will do as well.
    """
    if "kind" in calls.columns:
        calls = calls[calls["kind"] == LLM_CALL]
    if calls.empty:
        return pd.DataFrame(columns=COLUMNS)
    data = pd.json_normalize(calls["data"].tolist())
    wall = pd.json_normalize([w or {} for w in calls["wall"].tolist()])
    table = pd.DataFrame({
        "purpose": data["purpose"],
        "cache_hit": wall.get("cache_hit", pd.Series(False, index=data.index)).fillna(False).astype(bool),
        "fallback": data["fallback"].astype(bool),
        "retries": wall.get("retries", pd.Series(0, index=data.index)).fillna(0),
        "prompt_tokens": data["prompt_tokens"],
        "output_tokens": data["output_tokens"],
        "latency_s": wall.get("latency_s", pd.Series(float("nan"), index=data.index)),
        "queue_wait_s": wall.get("queue_wait_s", pd.Series(float("nan"), index=data.index)),
    })
    rows = {purpose: _summarise(group) for purpose, group in table.groupby("purpose", sort=True)}
    rows["TOTAL"] = _summarise(table)
    return pd.DataFrame.from_dict(rows, orient="index", columns=COLUMNS)


def _summarise(group: pd.DataFrame) -> list[float]:
    live = group[~group["cache_hit"]]
    latency = live["latency_s"].dropna()
    # tokens/s of the model itself: generated tokens over the time their calls were in flight
    busy = latency.sum()
    return [
        len(group),
        100.0 * group["cache_hit"].mean(),
        int(group["fallback"].sum()),
        int(group["retries"].sum()),
        int(group["prompt_tokens"].sum()),
        int(group["output_tokens"].sum()),
        live["output_tokens"].sum() / busy if busy > 0 else float("nan"),
        *(1000 * latency.quantile(q) if len(latency) else float("nan") for q in (0.5, 0.9, 0.99)),
        1000 * live["queue_wait_s"].dropna().median() if live["queue_wait_s"].notna().any() else float("nan"),
    ]


def format_llm_stats(table: pd.DataFrame) -> str:
    if table.empty:
        return "no LLM calls in this run"
    shown = table.copy()
    for column in ("calls", "fallbacks", "retries", "prompt_tok", "output_tok"):
        shown[column] = shown[column].astype(int)
    return shown.to_string(float_format=lambda v: f"{v:,.1f}", na_rep="-")
