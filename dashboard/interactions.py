"""Conversations from their events alone: who is talking to whom at a simulated time and what they said last
(what the town map draws between agents, and the "Latest lines" feed beside it), every conversation so far
with its lines (the Conversations tab), and how often each pair talked (the Relationships tab)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from agentville.dashboard.runlog import RunLog, upto
from agentville.sim.core import events
from agentville.sim.core.location import place_of

# Most talks last under a simulated minute, the slider's step: one that ended this recently still shows,
# so that replaying minute by minute (or following a run) does not skip nearly every conversation.
LINGER_S = 60.0
TALK_COLUMNS = ["conversation", "a", "b", "place", "started", "ended", "ongoing", "speaker", "listener", "text",
                "said"]
LINE_COLUMNS = ["time", "speaker", "listener", "text", "conversation"]


def talks_at(log: RunLog, t: float, linger: float = LINGER_S) -> pd.DataFrame:
    """The conversations going on at t (or ended less than ``linger`` seconds before), one row each.

    ``a`` started it with ``b`` at ``place``; ``speaker``, ``listener``, ``text`` and ``said`` (simulated
    seconds) are its latest line by t (empty before the first); ``ended`` is NaN while it goes on.
    """
    starts = upto(log.kind(events.CONVERSATION_START), t)
    ends = upto(log.kind(events.CONVERSATION_END), t)
    ended = {d["conversation"]: s for s, d in zip(ends["sim_time"], ends["data"])}
    talks = pd.DataFrame({
        "conversation": [d["conversation"] for d in starts["data"]], "a": starts["agent"].to_numpy(),
        "b": [d["partner"] for d in starts["data"]], "place": [place_of(d.get("location", "")) for d in starts["data"]],
        "started": starts["sim_time"].to_numpy(dtype=float)}, columns=TALK_COLUMNS[:5])
    talks["ended"] = talks["conversation"].map(ended).astype(float)
    talks = talks[~(talks["ended"] < t - linger)]  # NaN (still going) compares False: kept
    if talks.empty:
        return pd.DataFrame(columns=TALK_COLUMNS)
    talks = talks.assign(ongoing=talks["ended"].isna())
    lines = last_lines(log, t, set(talks["conversation"]), since=talks["started"].min())
    return talks.merge(lines, on="conversation", how="left").reset_index(drop=True)[TALK_COLUMNS]


def last_lines(log: RunLog, t: float, conversations: set[str], since: float) -> pd.DataFrame:
    """The latest line by t (said since ``since``) of each of ``conversations``."""
    said = upto(log.kind(events.UTTERANCE), t)
    said = said[said["sim_time"] >= since]
    ids = [d["conversation"] for d in said["data"]]
    mine = np.array([i in conversations for i in ids], dtype=bool)  # a list would pick columns when empty
    frame = pd.DataFrame({"conversation": pd.Series(ids, dtype=object), "speaker": said["agent"].to_numpy(),
                          "listener": [d["listener"] for d in said["data"]], "text": [d["text"] for d in said["data"]],
                          "said": said["sim_time"].to_numpy(dtype=float)})[mine]
    return frame.groupby("conversation").tail(1)


def latest_lines(log: RunLog, t: float, n: int = 8) -> pd.DataFrame:
    """The ``n`` latest lines said by t, newest first: time (a datetime), speaker, listener, text, conversation."""
    said = upto(log.kind(events.UTTERANCE), t).tail(n)[::-1]
    return pd.DataFrame({"time": [log.at(s) for s in said["sim_time"]], "speaker": said["agent"].to_numpy(),
                         "listener": [d["listener"] for d in said["data"]], "text": [d["text"] for d in said["data"]],
                         "conversation": [d["conversation"] for d in said["data"]]}, columns=LINE_COLUMNS)


def partners(talks: pd.DataFrame) -> dict[str, str]:
    """Agent -> whom it is talking with, from ``talks_at`` (both ways; a talk going on wins over an ended one)."""
    talks = talks.sort_values(["ongoing", "started"], kind="stable")
    return {**dict(zip(talks["a"], talks["b"])), **dict(zip(talks["b"], talks["a"]))}


def conversations(log: RunLog, t: float, search: str = "") -> list[dict]:
    """Conversations started by t, newest first, with their lines so far; ``search`` filters by text or name."""
    lines = upto(log.kind(events.UTTERANCE), t)
    starts = upto(log.kind(events.CONVERSATION_START), t)
    ends: dict[str, events.ConversationEnd] = {
        r.data["conversation"]: r.data for r in upto(log.kind(events.CONVERSATION_END), t).itertuples()}
    said: dict[str, list[tuple[dt.datetime, str, str]]] = {}  # each conversation's lines, read in one pass
    for s, a, d in zip(lines["sim_time"], lines["agent"], lines["data"]):
        said.setdefault(d.get("conversation"), []).append((log.at(s), a, d["text"]))
    talks = []
    for row in starts.itertuples():
        cid = row.data["conversation"]
        talk = {"id": cid, "time": log.at(row.sim_time), "people": [row.agent, row.data["partner"]],
                "location": row.data.get("location", ""), "summary": ends[cid]["summary"] if cid in ends else "",
                "ongoing": cid not in ends, "lines": said.get(cid, [])}
        talks.append(talk)
    needle = search.strip().lower()
    if needle:
        talks = [c for c in talks
                 if needle in " ".join([*c["people"], c["summary"], *(x[2] for x in c["lines"])]).lower()]
    return talks[::-1]


def relationships(log: RunLog, t: float) -> pd.DataFrame:
    """Who talked to whom by t, and how often (one row per pair)."""
    ends = upto(log.kind(events.CONVERSATION_END), t)
    pairs = pd.DataFrame([sorted([a, d["partner"]]) for a, d in zip(ends["agent"], ends["data"])],
                         columns=["a", "b"])
    if pairs.empty:
        return pd.DataFrame(columns=["a", "b", "conversations"])
    return pairs.value_counts().rename("conversations").reset_index().sort_values("conversations", ascending=False)
