"""What an agent had in mind at a simulated time: its day plan and revisions, its memories as retrieval
scores them, and its reflections with their evidence (the Agents tab)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from agentville.dashboard.runlog import RunLog, open_store, upto
from agentville.sim.core import events, retrieval
from agentville.sim.generation.cache import LLMCache


def day_plan(log: RunLog, agent: str, t: float) -> tuple[dict | None, list[dict]]:
    """The agent's latest day plan at t, and the revisions made since."""
    plans = upto(log.of_agent(agent, events.PLAN), t)
    days = [r for r in plans.itertuples() if r.data.get("level") == "day"]
    if not days:
        return None, []
    day = days[-1]
    revisions = [dict(r.data, time=log.at(r.sim_time)) for r in plans.itertuples()
                 if r.data.get("level") == "revision" and r.sim_time >= day.sim_time]
    return dict(day.data, time=log.at(day.sim_time)), revisions


def memories(log: RunLog, agent: str, t: float, focus: str | None = None) -> pd.DataFrame:
    """The memory stream at t with the retrieval score parts (recency from creation time).

    Relevance is to ``focus`` (another memory's text), from the embeddings the
    run cached; without a focus, or without cached vectors, it is left out.
    """
    rows = upto(log.of_agent(agent, events.MEMORY), t)
    frame = pd.DataFrame([{**r.data, "sim_time": r.sim_time} for r in rows.itertuples()],
                         columns=["id", "kind", "text", "importance", "subject", "evidence", "depth", "sim_time"])
    if frame.empty:
        return frame.assign(time=[], recency=[], score=[])
    frame["time"] = [log.at(s) for s in frame["sim_time"]]
    # The memory stream's retrieval score (sim.core.retrieval), with creation time standing in for last access.
    frame["recency"] = retrieval.recency_scores(frame["sim_time"].to_numpy(), t, retrieval.RECENCY_DECAY)
    parts = [retrieval.minmax(frame["recency"].to_numpy()),
             retrieval.minmax(frame["importance"].to_numpy(dtype=np.float64))]
    if focus:
        vectors = cached_vectors(log, list(frame["text"]) + [focus])
        if focus in vectors and all(text in vectors for text in frame["text"]):
            matrix = np.stack([vectors[text] for text in frame["text"]])
            frame["relevance"] = (matrix @ vectors[focus]).astype(np.float64)
            parts.append(retrieval.minmax(frame["relevance"].to_numpy()))
    frame["score"] = np.sum(parts, axis=0)
    return frame.drop(columns=["sim_time"])


def cached_vectors(log: RunLog, texts: list[str]) -> dict[str, np.ndarray]:
    """Unit embeddings of ``texts`` from the store's answer cache (the run's embedder), where present."""
    model = (log.run.get("settings") or {}).get("embedder")
    if not model or not log.run.get("db_path"):
        return {}
    with open_store(log.run["db_path"]) as store:
        found = LLMCache.reader(store.db).get_vectors(model, texts)
    return {text: vector / (np.linalg.norm(vector) or 1.0) for text, vector in found.items()}


def reflections(log: RunLog, agent: str, t: float) -> list[dict]:
    """Insights written up to t, each with the texts of its evidence."""
    mem = upto(log.of_agent(agent, events.MEMORY), t)
    by_id = {r.data["id"]: r.data for r in mem.itertuples()}
    return [{**d, "time": log.at(s), "evidence_texts": [by_id[e]["text"] for e in d["evidence"] if e in by_id]}
            for s, d in zip(mem["sim_time"], mem["data"]) if d["kind"] == "thought" and d.get("evidence")]
