"""Who told whom: how a fact spread through the town, read from a run's events.

The reference paper's diffusion study (Isabella's party, Sam's candidacy)
counted who knew a fact at the end; the log can say more: when each agent
first knew it, and from whom. An agent "knows" the fact from its first memory
whose text mentions one of the keywords (``mentions``, a deterministic judge:
no model call), or from the start when its persona mentions it. A memory
formed from a conversation names the conversation (``source``) and the one it
was heard from (``subject``), so each listener hangs under its teller: a tree.

Only MEMORY rows (and the few rows that say where conversations happened and
when agents were born) are read, and the text filter is one compiled regular
expression, so a 200,000-event log takes well under a second.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from agentville.sim.core.events import AGENT_ADDED, CONVERSATION_START, MEMORY, PLACED, RUN_STARTED
from agentville.sim.core.location import place_of

COLUMNS = ["agent", "sim_time", "time", "how", "source", "conversation", "place", "memory", "text"]
AT_START, CONVERSATION, OBSERVED, THOUGHT, PLANNED = "at start", "conversation", "observed", "thought", "plan"
HOW = (AT_START, CONVERSATION, OBSERVED, THOUGHT, PLANNED)
KINDS_READ = (MEMORY, CONVERSATION_START, AGENT_ADDED, PLACED, RUN_STARTED)  # all that ``diffusion`` looks at
_HOW_OF_KIND = {"event": OBSERVED, "thought": THOUGHT, "plan": PLANNED, "chat": CONVERSATION}

# -- the keyword judge ---------------------------------------------------------------
# A word is whole when no letter, digit or joining hyphen touches it: "party" is not in "partly", and a
# hyphenated compound is one word ("third-party" is not about a party: a keyword must name the compound).
_BEFORE, _AFTER = r"(?<![\w])(?<!\w-)", r"(?![\w])(?!-\w)"
_POSSESSIVE = r"(?:['’]s?)?"  # party's, parties', Valentine's (straight or curly apostrophe)


def _word(word: str, last: bool) -> str:
    """One keyword word as a pattern; the last word of a phrase may take a plural and a possessive ending."""
    text = re.sub("['’]", "['’]", re.escape(word))
    if not last:
        return text
    forms = [text + "(?:e?s)?"]
    if len(word) > 1 and word[-1].lower() == "y" and word[-2].lower() not in "aeiou":
        forms.append(text[:-1] + "ies")  # party -> parties
    return "(?:" + "|".join(forms) + ")" + _POSSESSIVE


def keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern for all ``keywords`` (None when there is none to look for)."""
    phrases = []
    for keyword in keywords:
        words = str(keyword).split()
        if words:
            parts = [_word(w, i == len(words) - 1) for i, w in enumerate(words)]
            phrases.append(_BEFORE + r"\s+".join(parts) + _AFTER)
    return re.compile("|".join(phrases), re.IGNORECASE) if phrases else None


def split_keywords(text: str) -> list[str]:
    """Keywords typed as one comma-separated line (``"Valentine, party"``)."""
    return [k.strip() for k in text.split(",") if k.strip()]


def mentions(text: str, keywords: Iterable[str]) -> bool:
    """Whether ``text`` names any keyword as a whole word or phrase (plural and possessive endings allowed)."""
    pattern = keyword_pattern(keywords)
    return bool(pattern and pattern.search(text or ""))


# -- who is in the town ----------------------------------------------------------------
def residents(events: pd.DataFrame) -> list[str]:
    """Everyone living in the run by the last of ``events``: its first residents, then those added."""
    rows = events[events["kind"].isin([RUN_STARTED, AGENT_ADDED])]
    return residents_in(zip(rows["kind"], rows["agent"], rows["data"]))


def residents_in(rows: Iterable[tuple[str, Any, Any]]) -> list[str]:
    """``residents`` from ``(kind, agent, data)`` rows in log order (other kinds are skipped)."""
    names: list[str] = []
    for kind, agent, data in rows:
        if kind == RUN_STARTED:
            names += [a for a in data.get("agents", []) if a not in names]
        elif kind == AGENT_ADDED and agent not in names:
            names.append(agent)
    return names


def _field(persona: Any, key: str) -> Any:
    return persona.get(key) if isinstance(persona, Mapping) else getattr(persona, key, None)


def persona_text(persona: Any) -> str:
    """What a persona (a scenario's ``PersonaSpec`` or its logged dict) says the agent knows from the start:
    learned, currently and its memories, one a line."""
    parts = [_field(persona, "learned"), _field(persona, "currently"), *(_field(persona, "memories") or [])]
    return "\n".join(" ".join(str(p).split()) for p in parts if p and str(p).strip())


def persona_texts(events: pd.DataFrame, personas: Iterable[Any] = ()) -> dict[str, str]:
    """Persona texts by name: of ``personas`` (a scenario's), and of agents the log says were added."""
    texts = {str(_field(p, "name")): persona_text(p) for p in personas}
    added = events[events["kind"] == AGENT_ADDED]
    for agent, data in zip(added["agent"], added["data"]):
        texts[agent] = persona_text(data.get("persona", {}))
    return texts


def _births(events: pd.DataFrame, memories: pd.DataFrame) -> dict[str, tuple[float, int]]:
    """(sim_time, seq) each agent began living: where it was first placed, else when the run started or it was
    added; an agent the log has only memories of (a hand-made log) began with its first memory."""
    born: dict[str, tuple[float, int]] = {}
    rows = events[events["kind"].isin([RUN_STARTED, AGENT_ADDED, PLACED])]
    for kind, agent, t, seq, data in zip(rows["kind"], rows["agent"], rows["sim_time"], rows["seq"], rows["data"]):
        for name in (data.get("agents", []) if kind == RUN_STARTED else [agent]):
            if name not in born or kind == PLACED and born[name][1] < 0:
                born[name] = (float(t), int(seq) if kind == PLACED else -1)  # -1: not placed yet
    firsts = memories.drop_duplicates("agent")
    for agent, t, seq in zip(firsts["agent"], firsts["sim_time"], firsts["seq"]):
        born.setdefault(agent, (float(t), int(seq)))
    return born


def _sentence(text: str, pattern: re.Pattern[str]) -> str:
    """The sentence (or line) of ``text`` that mentions the fact."""
    found = [s for s in re.split(r"(?<=[.!?])\s+|\n", text) if pattern.search(s)]
    return found[0].strip() if found else text


# -- the diffusion table ---------------------------------------------------------------
def diffusion(events: pd.DataFrame, keywords: Iterable[str], personas: Mapping[str, str] | None = None,
              *, start: dt.datetime | None = None) -> pd.DataFrame:
    """One row per agent who came to know the fact, in order of first knowing (see ``COLUMNS``).

    ``how``: "at start" when the agent's persona text (``personas``, by name) mentions it or its first
    mentioning memory entered its stream when it began living (its first memories are its persona's);
    "conversation" when that memory was formed from a conversation (``source`` is then who told it, from
    the memory's subject, and ``conversation``/``place`` which talk, where); otherwise the memory's kind says
    how the agent found out by itself: "observed", "thought" (a reflection or a whisper) or "plan". A chat
    memory without a conversation id (logs older than ids on memories) is matched to the latest talk of the
    pair. ``time`` comes from the events' ``time`` column, else from ``start``.
    """
    pattern = keyword_pattern(keywords)
    if pattern is None or events.empty:
        return _table([], events, start)
    memories = events[events["kind"] == MEMORY].sort_values(["sim_time", "seq"], kind="stable")
    hits = [pattern.search(d.get("text") or "") is not None for d in memories["data"]]
    first = memories[hits].drop_duplicates("agent")
    born = _births(events, memories)
    talks = _conversations(events)
    rows: dict[str, dict[str, Any]] = {}
    for agent, t, seq, data in zip(first["agent"], first["sim_time"], first["seq"], first["data"]):
        kind, source = data.get("kind"), data.get("source")
        how = _HOW_OF_KIND.get(kind, OBSERVED) if not source else CONVERSATION
        if not source and t <= born[agent][0]:
            how = AT_START
        row = {"agent": agent, "sim_time": float(t), "seq": int(seq), "how": how, "source": None,
               "conversation": None, "place": None, "memory": data.get("id"), "text": data.get("text", "")}
        if how == CONVERSATION:
            talk = talks.get(source) if source else _latest_talk(talks, agent, data.get("subject"), t)
            teller = data.get("subject") or (talk and _other(talk, agent))
            row.update(source=teller, conversation=talk["id"] if talk else source,
                       place=place_of(talk["location"]) if talk else None)
        rows[agent] = row
    for agent, text in (personas or {}).items():
        known = rows.get(agent)
        if agent in born and pattern.search(text or "") and (known is None or known["how"] != AT_START):
            t, seq = born[agent]
            rows[agent] = {"agent": agent, "sim_time": t, "seq": seq, "how": AT_START, "source": None,
                           "conversation": None, "place": None, "memory": None, "text": _sentence(text, pattern)}
    return _table(list(rows.values()), events, start)


def _table(rows: list[dict[str, Any]], events: pd.DataFrame, start: dt.datetime | None) -> pd.DataFrame:
    """The rows in order of first knowing, with their times; the same columns and types when there are none."""
    table = pd.DataFrame(rows, columns=[*COLUMNS, "seq"]).astype({"sim_time": float, "memory": "Int64"})
    table = table.sort_values(["sim_time", "seq"], kind="stable").reset_index(drop=True)
    table["time"] = _times(events, table, start)
    return table[COLUMNS]


def _conversations(events: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Conversation starts by id: who started it, with whom, where, when."""
    starts = events[events["kind"] == CONVERSATION_START]
    return {d["conversation"]: {"id": d["conversation"], "starter": a, "partner": d.get("partner"),
                                "location": d.get("location", ""), "sim_time": float(t)}
            for a, t, d in zip(starts["agent"], starts["sim_time"], starts["data"])}


def _other(talk: dict[str, Any], agent: str) -> str | None:
    return talk["partner"] if talk["starter"] == agent else talk["starter"]


def _latest_talk(talks: dict[str, dict[str, Any]], agent: str, other: str | None, t: float) -> dict[str, Any] | None:
    pair = {agent, other}
    found = [c for c in talks.values() if {c["starter"], c["partner"]} == pair and c["sim_time"] <= t]
    return max(found, key=lambda c: c["sim_time"]) if found else None


def _times(events: pd.DataFrame, table: pd.DataFrame, start: dt.datetime | None) -> pd.Series:
    if start is None and "time" in events.columns and len(events) and not pd.isna(events["time"].iloc[0]):
        origin = events["time"].iloc[0] - pd.to_timedelta(events["sim_time"].iloc[0], unit="s")
    elif start is not None:
        origin = pd.Timestamp(start)
    else:
        return pd.Series(pd.NaT, index=table.index, dtype="datetime64[ns]")
    return origin + pd.to_timedelta(table["sim_time"].astype(float), unit="s")


# -- the tree ---------------------------------------------------------------------------
def parents(table: pd.DataFrame) -> list[str | None]:
    """Each row's parent in the tree: its teller when the teller knew before it (rows above), else None."""
    position = {agent: i for i, agent in enumerate(table["agent"])}
    return [s if isinstance(s, str) and position.get(s, len(table)) < i else None
            for i, s in enumerate(table["source"])]


def _when(row: Any) -> str:
    return f"{row.time:%b %d %H:%M}" if isinstance(row.time, dt.datetime) and not pd.isna(row.time) else \
        f"+{int(row.sim_time) // 3600:02d}:{int(row.sim_time) % 3600 // 60:02d}"


def tree_text(table: pd.DataFrame) -> str:
    """The tree as text: roots are those who knew at the start or found out by themselves, children who heard
    it from them (time and place). A teller who is not in the table, or who knew only later (which first
    mentions make impossible, but a log may hold anything), becomes a root marked so."""
    up = parents(table)
    rows = list(table.itertuples(index=False))
    known = set(table["agent"])
    children: dict[str, list[int]] = {}
    roots: list[tuple[str, int | None]] = []  # (label of a teller outside the table, or row index)
    for i, (row, parent) in enumerate(zip(rows, up)):
        if parent is not None:
            children.setdefault(parent, []).append(i)
        elif row.how == CONVERSATION and isinstance(row.source, str) and row.source not in known:
            if row.source not in children:
                roots.append((row.source, None))
            children.setdefault(row.source, []).append(i)
        else:
            roots.append((row.agent, i))

    def heard(row: Any) -> str:
        return f"{row.agent}  {_when(row)}" + (f" at {row.place}" if isinstance(row.place, str) and row.place else "")

    def label(i: int) -> str:
        row = rows[i]
        if row.how == AT_START:
            return f"{row.agent} (at start)"
        if row.how == CONVERSATION:
            teller = f"from {row.source}, who knew only later" if isinstance(row.source, str) else "from someone"
            return heard(row) + f" (heard {teller})"
        return f"{row.agent} ({row.how} {_when(row)})"

    lines: list[str] = []
    seen: set[str] = set()

    def branch(name: str, prefix: str) -> None:
        if name in seen:  # a cycle: never through first mentions, guarded all the same
            return
        seen.add(name)
        kids = children.get(name, [])
        for k, i in enumerate(kids):
            last = k == len(kids) - 1
            lines.append(prefix + ("└── " if last else "├── ") + heard(rows[i]))
            branch(rows[i].agent, prefix + ("    " if last else "│   "))

    for name, at in roots:
        lines.append(label(at) if at is not None else f"{name} (told it; no memory of theirs mentions it)")
        branch(name, "")
    return "\n".join(lines)
