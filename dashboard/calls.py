"""The run's model calls as tables: one row per call, requests in flight over wall time, and how far ahead of
the slowest cluster the asking agents were (the Generation tab)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from agentville.dashboard.runlog import RunLog
from agentville.sim.core import events

GENERATION_COLUMNS = ["purpose", "hour", "asked_hour", "prompt_tokens", "output_tokens", "latency_s", "cache_hit",
                      "fallback", "lead_s", "submitted_s", "ahead_s"]


def _hours(log: RunLog, seconds: np.ndarray) -> pd.Series:
    """The simulated hours (timestamps on the hour) that ``seconds`` after the run's start fall in."""
    return pd.Series(pd.Timestamp(log.at(0)) + pd.to_timedelta(seconds, unit="s")).dt.floor("h")


def generation_calls(log: RunLog, t: float) -> pd.DataFrame:
    """One row per model call up to t: purpose, tokens, latency, cache hit, fallback, simulated hour,
    and how long before it was needed the request was asked (``lead_s``, simulated seconds: the pipelining).

    Two wall-clock facts are NaN where the call's row lacks them (runs logged before they were measured, and
    answers asked for at once): ``submitted_s``, wall seconds since the run's generation service started when
    the request went to the backend, and ``ahead_s``, simulated seconds by which the asking agents' cluster
    was ahead of the town's slowest one (the logged ``wall["ahead_s"]``; 0 when the engine runs in order).
    ``asked_hour`` is the simulated hour the request was asked in.
    """
    every = log.derived("generation_calls", lambda: _calls_table(log))  # read once per log, then cut at t
    return every[every["sim_time"] <= t][GENERATION_COLUMNS].reset_index(drop=True)


def _calls_table(log: RunLog) -> pd.DataFrame:
    calls = log.kind(events.LLM_CALL)
    if calls.empty:
        return pd.DataFrame(columns=[*GENERATION_COLUMNS, "sim_time"])
    walls = [w or {} for w in calls["wall"]]
    # runs logged before due times existed have neither field: asked when due
    asked = [float(d.get("asked", s)) for s, d in zip(calls["sim_time"], calls["data"])]
    return pd.DataFrame({
        "purpose": [d["purpose"] for d in calls["data"]],
        "hour": _hours(log, calls["sim_time"].to_numpy(dtype=float)),
        "asked_hour": _hours(log, np.asarray(asked, dtype=float)),
        "prompt_tokens": [d.get("prompt_tokens", 0) for d in calls["data"]],
        "output_tokens": [d.get("output_tokens", 0) for d in calls["data"]],
        "latency_s": [w.get("latency_s") for w in walls],
        "cache_hit": [bool(w.get("cache_hit")) for w in walls],
        "fallback": [bool(d.get("fallback")) for d in calls["data"]],
        "lead_s": [float(d.get("due", s)) - a for s, a, d in zip(calls["sim_time"], asked, calls["data"])],
        "submitted_s": pd.to_numeric(pd.Series([w.get("submitted_s") for w in walls], dtype=object)),
        "ahead_s": pd.to_numeric(pd.Series([w.get("ahead_s") for w in walls], dtype=object)),
        "sim_time": calls["sim_time"].to_numpy(),
    }, columns=[*GENERATION_COLUMNS, "sim_time"])


def requests_in_flight(calls: pd.DataFrame) -> pd.DataFrame:
    """How many model requests were in flight over wall time: ``wall_s`` (seconds since the run's generation
    service started) and ``in_flight`` from that moment until the next row's ``wall_s`` (a step function).

    It exists to show how well the shared workers are kept busy: the simulation asks ahead so that the
    backend always has a batch's worth of requests to work on; a curve that keeps dropping towards 0 means
    the workers sit idle waiting for the simulation to ask, a curve flat at the workers' capacity means the
    simulation waits for them. Each request of ``calls`` (``generation_calls``) counts from ``submitted_s`` to
    ``submitted_s + latency_s``; rows without both are left out, and a request ending when another starts
    does not overlap it (cache hits, answered at once, add nothing). Every point where requests start or end
    is a row, after all the changes at that moment. A resumed run restarts the wall clock, so its sessions
    overlap here.
    """
    timed = calls.dropna(subset=["submitted_s", "latency_s"])
    if timed.empty:
        return pd.DataFrame({"wall_s": pd.Series(dtype=float), "in_flight": pd.Series(dtype=int)})
    start = timed["submitted_s"].astype(float)
    end = start + timed["latency_s"].astype(float)
    sweep = pd.concat([pd.Series(1, index=start.to_numpy()), pd.Series(-1, index=end.to_numpy())])
    counts = sweep.groupby(level=0).sum().sort_index().cumsum()
    counts = counts[counts.diff() != 0]  # moments that change nothing (a cache hit) are no steps
    return pd.DataFrame({"wall_s": counts.index.to_numpy(dtype=float), "in_flight": counts.to_numpy(dtype=int)})


def ahead_by_hour(calls: pd.DataFrame) -> pd.DataFrame:
    """Per simulated hour a request was asked in (``asked_hour``), how far ahead of the town's slowest
    cluster the asking cluster was (``ahead_s`` of ``generation_calls``), in simulated minutes: ``mean_min``,
    ``max_min``, and how many ``calls`` had it. Calls without the measurement (older runs) are left out.

    Scheduled out of order, areas of the town whose agents do not interact run ahead of the slowest one and
    keep the workers fed; in order every cluster is at the same time and both columns are 0.
    """
    measured = calls.dropna(subset=["ahead_s"])
    if measured.empty:
        return pd.DataFrame(columns=["hour", "mean_min", "max_min", "calls"])
    minutes = (measured["ahead_s"].astype(float) / 60).groupby(measured["asked_hour"])
    return pd.DataFrame({"mean_min": minutes.mean(), "max_min": minutes.max(), "calls": minutes.size()}
                        ).rename_axis("hour").reset_index()
