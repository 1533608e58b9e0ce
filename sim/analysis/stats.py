"""LLM usage of a run, per purpose, from its ``llm_call`` events (``events.LLM_CALL``, payload ``events.LLMCall``).

The table also counts what the agents made of the answers: ``parse_failed``
answers the parser rejected (``events.PARSE_FAILED``), and ``fallbacks`` every
answer that ended as the agent's plain default, whether the backend gave up
(a fallback ``llm_call``) or the retries after unparseable answers were spent
(``events.FALLBACK``). The two never count the same answer: a backend's
fallback is the default, which always parses.

Besides the table, ``fault_counts`` tells what went wrong on the way: every
failed attempt (retried or not) is in its call's ``wall.faults``, and every
answer given up on in ``wall.error`` (the call then used its fallback).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pandas as pd

from agentville.sim.core.events import FALLBACK, LLM_CALL, PARSE_FAILED

ANSWER_KINDS = [LLM_CALL, PARSE_FAILED, FALLBACK]  # what ``llm_stats`` reads (``store.events(kinds=ANSWER_KINDS)``)
COLUMNS = ["calls", "cache_hit_%", "prefix_hit_%", "parse_failed", "fallbacks", "retries", "prompt_tok", "output_tok",
           "tok_per_s", "p50_ms", "p90_ms", "p99_ms", "queue_p50_ms"]


def llm_stats(events: pd.DataFrame) -> pd.DataFrame:
    """One row per purpose plus a total row, from ``store.events(kinds=ANSWER_KINDS)`` (a whole run's will do).

    Given ``llm_call`` rows only, ``parse_failed`` reads 0 and ``fallbacks`` counts the backend's alone.
    """
    if "kind" in events.columns:
        calls, answers = events[events["kind"] == LLM_CALL], events[events["kind"].isin([PARSE_FAILED, FALLBACK])]
    else:
        calls, answers = events, pd.DataFrame(columns=["kind", "data"])
    if calls.empty:
        return pd.DataFrame(columns=COLUMNS)
    # flat records: the fields read, not every prompt and answer (json_normalize took most of the time)
    data = pd.DataFrame.from_records(calls["data"].tolist(), columns=["purpose", "fallback", "prompt_tokens",
                                                                     "output_tokens"])
    wall = pd.DataFrame.from_records([w or {} for w in calls["wall"].tolist()])
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
    parsing = _parse_outcomes(answers)
    rows = {purpose: _summarise(group, parsing.get(purpose, Counter()))
            for purpose, group in table.groupby("purpose", sort=True)}
    rows["TOTAL"] = _summarise(table, sum(parsing.values(), Counter()))
    return pd.DataFrame.from_dict(rows, orient="index", columns=COLUMNS)


def _parse_outcomes(answers: pd.DataFrame) -> dict[str, Counter[str]]:
    """Per purpose, how many ``parse_failed`` and ``fallback`` events the agents logged."""
    outcomes: dict[str, Counter[str]] = {}
    for kind, data in zip(answers["kind"], answers["data"]):
        outcomes.setdefault(data["purpose"], Counter())[kind] += 1
    return outcomes


def _summarise(group: pd.DataFrame, parsing: Counter[str]) -> list[float]:
    live = group[~group["cache_hit"]]
    latency = live["latency_s"].dropna()
    # tokens/s of the model itself: generated tokens over the time their calls were in flight
    busy = latency.sum()
    return [
        len(group),
        100.0 * group["cache_hit"].mean(),
        _prefix_share(live),
        parsing[PARSE_FAILED],
        int(group["fallback"].sum()) + parsing[FALLBACK],
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
    (r"HTTP (\d{3})", "HTTP {0}"), (r"no (?:complete )?answer from .* within|timed out", "timed out"),
    (r"connection refused", "connection refused"), (r"unreadable answer", "unreadable answer"),
    (r"an answer (?:(?:of|over) \d+ bytes|inflating)", "answer too large"),
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
    for column in ("calls", "parse_failed", "fallbacks", "retries", "prompt_tok", "output_tok"):
        shown[column] = shown[column].astype(int)
    return shown.to_string(float_format=lambda v: f"{v:,.1f}", na_rep="-")


def answer_troubles(store: Any, run_id: str) -> tuple[Counter[str], Counter[str]]:
    """(parse failures, fallbacks) per purpose of a stored run, counted in SQL (a summary must not load every call).

    The same counts as ``llm_stats``'s ``parse_failed`` and ``fallbacks`` columns.
    """
    rows = store.db.execute(
        "SELECT kind, json_extract(data, '$.purpose'), COUNT(*) FROM events WHERE run_id = ? AND "
        "(kind IN (?, ?) OR (kind = ? AND data LIKE '%\"fallback\":true%' AND json_extract(data, '$.fallback'))) "
        "GROUP BY 1, 2",  # LIKE first: a text scan is cheaper than parsing every call's JSON
        (run_id, PARSE_FAILED, FALLBACK, LLM_CALL)).fetchall()
    failed: Counter[str] = Counter()
    fallbacks: Counter[str] = Counter()
    for kind, purpose, n in rows:
        (failed if kind == PARSE_FAILED else fallbacks)[purpose] += n
    return failed, fallbacks


def format_answer_troubles(failed: Counter[str], fallbacks: Counter[str]) -> str:
    """``12 parse failures (decompose 8, ...), 7 fallbacks (decompose 4, ...)``, or that there were none."""
    def listed(counts: Counter[str], what: str) -> str:
        total = sum(counts.values())
        detail = ", ".join(f"{purpose} {n}" for purpose, n in counts.most_common())
        return f"{total} {what}" + (f" ({detail})" if detail else "")

    return f"{listed(failed, 'parse failures')}, {listed(fallbacks, 'fallbacks')}"
