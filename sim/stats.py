"""LLM usage of a run, per purpose, from its ``llm_call`` events (``events.LLM_CALL``, payload ``events.LLMCall``).

Besides the table, ``fault_counts`` tells what went wrong on the way: every
failed attempt (retried or not) is in its call's ``wall.faults``, and every
answer given up on in ``wall.error`` (the call then used its fallback).
"""

from __future__ import annotations

import re
from collections import Counter

import pandas as pd

from .events import LLM_CALL

COLUMNS = ["calls", "cache_hit_%", "prefix_hit_%", "fallbacks", "retries", "prompt_tok", "output_tok", "tok_per_s",
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
        # prompt tokens an in-process worker did not compute again (its prefix store); unknown elsewhere
        "prefix_tokens": wall.get("prefix_tokens", pd.Series(float("nan"), index=data.index)),
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
        _prefix_share(live),
        int(group["fallback"].sum()),
        int(group["retries"].sum()),
        int(group["prompt_tokens"].sum()),
        int(group["output_tokens"].sum()),
        live["output_tokens"].sum() / busy if busy > 0 else float("nan"),
        *(1000 * latency.quantile(q) if len(latency) else float("nan") for q in (0.5, 0.9, 0.99)),
        1000 * live["queue_wait_s"].dropna().median() if live["queue_wait_s"].notna().any() else float("nan"),
    ]


def _prefix_share(live: pd.DataFrame) -> float:
    known = live[live["prefix_tokens"].notna()]
    prompted = known["prompt_tokens"].sum()
    return 100.0 * known["prefix_tokens"].sum() / prompted if prompted else float("nan")


_FAULT_CLASSES = [  # (pattern in the reason, the name shown), first match wins
    (r"HTTP (\d{3})", "HTTP {0}"), (r"no answer from .* within|timed out", "timed out"),
    (r"connection refused", "connection refused"), (r"unreadable answer", "unreadable answer"),
    (r"empty answer", "empty answer"), (r"names none of the options", "no option named"),
    (r"no answer within", "given up waiting"),
]


def fault_class(reason: str) -> str:
    """A short name for why an attempt failed ("HTTP 500", "timed out", ...), for counting."""
    for pattern, name in _FAULT_CLASSES:
        found = re.search(pattern, reason)
        if found:
            return name.format(*found.groups())
    return "other"


def fault_counts(calls: pd.DataFrame) -> tuple[Counter[str], Counter[str]]:
    """(failed attempts by class, answers given up on by class) of a run's ``llm_call`` events."""
    if "kind" in calls.columns:
        calls = calls[calls["kind"] == LLM_CALL]
    attempts: Counter[str] = Counter()
    given_up: Counter[str] = Counter()
    for wall in calls["wall"] if "wall" in calls.columns else []:
        wall = wall or {}
        attempts.update(fault_class(reason) for reason in wall.get("faults", []))
        if wall.get("error"):
            given_up[fault_class(wall["error"])] += 1
    return attempts, given_up


def format_faults(attempts: Counter[str], given_up: Counter[str]) -> str:
    """One line per kind of trouble, or a line saying there was none."""
    def listed(counts: Counter[str]) -> str:
        return ", ".join(f"{name} {n}" for name, n in counts.most_common())

    if not attempts and not given_up:
        return "Faults: none (every request was answered at the first attempt)"
    lines = [f"Faults: {sum(attempts.values())} failed attempts ({listed(attempts) or 'none'})"]
    if given_up:
        lines.append(f"Fallbacks: {sum(given_up.values())} requests given up on ({listed(given_up)})")
    return "\n".join(lines)


def format_llm_stats(table: pd.DataFrame) -> str:
    if table.empty:
        return "no LLM calls in this run"
    shown = table.copy()
    for column in ("calls", "fallbacks", "retries", "prompt_tok", "output_tok"):
        shown[column] = shown[column].astype(int)
    return shown.to_string(float_format=lambda v: f"{v:,.1f}", na_rep="-")
