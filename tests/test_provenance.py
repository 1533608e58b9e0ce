"""Who told whom: the diffusion tree of a fact, from hand-made event logs (sim.provenance)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

from agentville.sim.analysis.provenance import (
    AT_START,
    CONVERSATION,
    diffusion,
    mentions,
    persona_text,
    persona_texts,
    residents,
    tree_text,
)
from agentville.sim.core import events

START = dt.datetime(2023, 2, 13, 8, 0)
ISABELLA, MARIA, KLAUS, AYESHA = "Isabella Rodriguez", "Maria Lopez", "Klaus Mueller", "Ayesha Khan"
PARTY = "Isabella is throwing a Valentine's Day party at Hobbs Cafe on February 14 from 5 to 7 pm"
KEYWORDS = ["Valentine", "party"]


def at(hhmm: str) -> float:
    """Simulated seconds from 08:00 on the first day to ``hhmm`` then."""
    hours, minutes = map(int, hhmm.split(":"))
    return (hours - 8) * 3600.0 + minutes * 60


class Log:
    """A hand-made event log: rows in order, with the columns ``EventStore.events`` gives."""

    def __init__(self, *agents: str):
        self.rows: list[tuple[float, str, str | None, dict[str, Any]]] = []
        self.ids: dict[str, int] = {}
        self.add(0.0, events.RUN_STARTED, None, agents=list(agents), scenario="t", seed=1,
                 start=START.isoformat(), until=None)
        for name in agents:
            self.add(0.0, events.PLACED, name, location=f"{name}'s home: room")

    def add(self, t: float, event: str, agent: str | None, **data: Any) -> Log:
        self.rows.append((t, event, agent, data))
        return self

    def memory(self, t: float, agent: str, text: str, kind: str = "event", subject: str | None = None,
               source: str | None = None) -> Log:
        self.ids[agent] = self.ids.get(agent, -1) + 1
        data = {"id": self.ids[agent], "kind": kind, "text": text, "importance": 5, "subject": subject,
                "evidence": [], "depth": 0}
        if source is not None:
            data["source"] = source
        return self.add(t, events.MEMORY, agent, **data)

    def told(self, t: float, teller: str, listener: str, where: str, text: str, minutes: float = 2) -> Log:
        """``teller`` starts a conversation at ``where``; afterwards ``listener`` remembers what it heard."""
        cid = f"{teller}/{sum(k == events.CONVERSATION_START for _, k, _, _ in self.rows) + 1}"
        self.add(t, events.CONVERSATION_START, teller, conversation=cid, partner=listener, location=where)
        self.add(t + 60 * minutes, events.CONVERSATION_END, teller, conversation=cid, partner=listener, lines=4,
                 minutes=minutes, reason="goodbye", summary="they talked")
        return self.memory(t + 60 * minutes, listener, f"{listener} heard from {teller}: {text}", kind="chat",
                           subject=teller, source=cid)

    def frame(self, with_time: bool = True) -> pd.DataFrame:
        frame = pd.DataFrame([(i + 1, t, kind, agent, data, None) for i, (t, kind, agent, data) in enumerate(self.rows)],
                             columns=["seq", "sim_time", "kind", "agent", "data", "wall"])
        if with_time:
            frame.insert(1, "time", pd.Timestamp(START) + pd.to_timedelta(frame["sim_time"], unit="s"))
            frame.insert(0, "run_id", "r")
        return frame


def party_log() -> Log:
    """Isabella knows from the start; Maria and Ayesha hear it at the cafe, Klaus from Maria at the college
    (and later again from Ayesha: only the first counts). Maria's own first memory is about physics."""
    log = Log(ISABELLA, MARIA, KLAUS, AYESHA)
    log.memory(0.0, ISABELLA, "Isabella opened Hobbs Cafe five years ago")
    log.memory(0.0, ISABELLA, "Isabella is planning a Valentine's Day party at Hobbs Cafe on February 14th")
    log.memory(0.0, MARIA, "Maria takes physics classes at Oak Hill College")
    log.memory(at("09:00"), MARIA, "Isabella Rodriguez is serving coffee", subject=ISABELLA)
    log.told(at("10:40"), ISABELLA, MARIA, "Hobbs Cafe: cafe: customer seating", PARTY)
    log.told(at("12:05"), ISABELLA, AYESHA, "Hobbs Cafe: cafe: cafe counter", PARTY, minutes=5)
    log.told(at("14:00"), MARIA, KLAUS, "Oak Hill College: library: library table", PARTY, minutes=5)
    log.told(at("16:00"), AYESHA, KLAUS, "Johnson Park: park", "the party is at Hobbs Cafe")
    log.memory(at("17:00"), MARIA, "Isabella Rodriguez is decorating for the party", subject=ISABELLA)
    return log


def test_a_chain_of_tellings_with_times_and_places():
    table = diffusion(party_log().frame(), KEYWORDS)
    assert list(table["agent"]) == [ISABELLA, MARIA, AYESHA, KLAUS]
    assert list(table["how"]) == [AT_START, CONVERSATION, CONVERSATION, CONVERSATION]
    assert list(table["source"].fillna("-")) == ["-", ISABELLA, ISABELLA, MARIA]
    assert list(table["place"].fillna("-")) == ["-", "Hobbs Cafe", "Hobbs Cafe", "Oak Hill College"]
    assert list(table["conversation"].fillna("-")) == ["-", f"{ISABELLA}/1", f"{ISABELLA}/2", f"{MARIA}/3"]
    assert [f"{t:%H:%M}" for t in table["time"]] == ["08:00", "10:42", "12:10", "14:05"]
    assert list(table["sim_time"]) == [0.0, at("10:42"), at("12:10"), at("14:05")]
    assert table["memory"].tolist() == [1, 2, 0, 0]  # Isabella's second memory; Maria's third; the others' first
    assert table["text"].iloc[3] == f"{KLAUS} heard from {MARIA}: {PARTY}"  # not Ayesha's later telling
    assert tree_text(table) == "\n".join([
        "Isabella Rodriguez (at start)",
        "├── Maria Lopez  Feb 13 10:42 at Hobbs Cafe",
        "│   └── Klaus Mueller  Feb 13 14:05 at Oak Hill College",
        "└── Ayesha Khan  Feb 13 12:10 at Hobbs Cafe"])


def test_only_the_first_mention_counts_and_only_up_to_the_log_given():
    frame = party_log().frame()
    early = diffusion(frame[frame["sim_time"] <= at("13:00")], KEYWORDS)
    assert list(early["agent"]) == [ISABELLA, MARIA, AYESHA]
    # Maria's later observation of the decorating does not move her first knowing
    assert diffusion(frame, KEYWORDS).set_index("agent").at[MARIA, "how"] == CONVERSATION
    # Ayesha's later telling names Hobbs Cafe too, but Klaus first heard of it from Maria
    assert diffusion(frame, ["Hobbs Cafe"]).set_index("agent").at[KLAUS, "source"] == MARIA
    assert diffusion(frame, ["gentrification"]).empty and diffusion(frame, [" ", ""]).empty


def test_who_did_not_know_is_absent_and_residents_give_the_share():
    frame = party_log().add(at("18:00"), events.AGENT_ADDED, "Tom Moreno", persona={"name": "Tom Moreno"}).frame()
    table = diffusion(frame, KEYWORDS)
    assert residents(frame) == [ISABELLA, MARIA, KLAUS, AYESHA, "Tom Moreno"]
    assert "Tom Moreno" not in set(table["agent"]) and len(table) / len(residents(frame)) == 0.8


def test_a_teller_not_in_the_table_becomes_a_root():
    log = Log("Sam Moore", "Tom Moreno", "Jennifer Moore")
    log.memory(0.0, "Sam Moore", "Sam is a retired navy officer")
    log.told(at("09:00"), "Sam Moore", "Tom Moreno", "Hobbs Cafe: cafe", "Sam is running for mayor")
    log.told(at("11:00"), "Tom Moreno", "Jennifer Moore", "Johnson Park: park", "Sam's campaign for mayor")
    table = diffusion(log.frame(), ["mayor"])
    assert list(table["agent"]) == ["Tom Moreno", "Jennifer Moore"] and table["source"].iloc[0] == "Sam Moore"
    assert tree_text(table) == "\n".join([
        "Sam Moore (told it; no memory of theirs mentions it)",
        "└── Tom Moreno  Feb 13 09:02 at Hobbs Cafe",
        "    └── Jennifer Moore  Feb 13 11:02 at Johnson Park"])


def test_finding_out_by_oneself_observed_thought_or_plan():
    log = Log("Eddy Lin", "John Lin", "Mei Lin")
    log.memory(at("09:00"), "Eddy Lin", "Isabella Rodriguez is hanging decorations for the party", subject=ISABELLA)
    log.add(at("10:00"), events.INTERVENTION, "John Lin", intervention="whisper", text="I heard of a party")
    log.memory(at("10:01"), "John Lin", "I heard of a party", kind="thought")
    log.memory(at("11:00"), "Mei Lin", "Mei Lin's plan for Monday: going to the party at 17:00", kind="plan")
    table = diffusion(log.frame(), ["party"])
    assert list(table["how"]) == ["observed", "thought", "plan"]
    assert table["source"].isna().all() and table["conversation"].isna().all()
    assert tree_text(table).splitlines() == ["Eddy Lin (observed Feb 13 09:00)", "John Lin (thought Feb 13 10:01)",
                                             "Mei Lin (plan Feb 13 11:00)"]


def test_a_persona_that_names_the_fact_knows_it_from_the_start():
    """Even with no memory saying so ("currently" is not a memory), and from when an added agent arrives."""
    carmen = {"name": "Carmen Ortiz", "learned": "Carmen runs the shop.",
              "currently": "Carmen is helping with decorations. She has heard about the party at the cafe!",
              "memories": ["Carmen likes jazz"]}
    log = party_log()
    log.add(at("13:00"), events.AGENT_ADDED, "Carmen Ortiz", persona=carmen)
    log.add(at("13:00"), events.PLACED, "Carmen Ortiz", location="shop: counter")
    log.memory(at("13:00"), "Carmen Ortiz", "Carmen likes jazz")
    log.memory(at("15:00"), "Carmen Ortiz", "the party needs balloons", kind="thought")
    frame = log.frame()
    texts = persona_texts(frame, [{"name": "Nobody Here", "currently": "knows about the party"}])
    assert texts["Carmen Ortiz"] == persona_text(carmen)  # the logged persona's text
    assert persona_text(carmen).splitlines() == [carmen["learned"], carmen["currently"], "Carmen likes jazz"]
    table = diffusion(frame, ["party"], texts).set_index("agent")
    carmen_row = table.loc["Carmen Ortiz"]
    assert carmen_row["how"] == AT_START and carmen_row["sim_time"] == at("13:00")
    assert carmen_row["text"] == "She has heard about the party at the cafe!" and pd.isna(carmen_row["memory"])
    assert "Nobody Here" not in table.index  # a persona of no one living in the run
    # the first of a persona's memories at its birth is "at start" too, with no persona text given
    assert diffusion(frame, ["jazz"]).set_index("agent").at["Carmen Ortiz", "how"] == AT_START


def test_an_old_chat_memory_without_a_conversation_id_finds_its_talk():
    log = Log(ISABELLA, MARIA)
    log.memory(0.0, ISABELLA, PARTY)
    for hhmm in ("09:00", "11:00"):
        log.add(at(hhmm), events.CONVERSATION_START, MARIA, conversation=f"{MARIA}/{hhmm}", partner=ISABELLA,
                location="Hobbs Cafe: cafe" if hhmm == "11:00" else "Johnson Park: park")
    log.memory(at("11:05"), MARIA, f"{ISABELLA} and {MARIA} talked: the party is tomorrow", kind="chat",
               subject=ISABELLA)
    row = diffusion(log.frame(), ["party"]).iloc[1]
    assert (row["how"], row["source"], row["conversation"], row["place"]) == \
        (CONVERSATION, ISABELLA, f"{MARIA}/11:00", "Hobbs Cafe")


def test_a_log_whose_tellings_loop_still_makes_a_tree():
    """Only first mentions count, so a teller always knew first; a log that says otherwise is shown, not looped."""
    log = Log("A", "B")
    log.memory(at("09:00"), "A", "x", kind="chat", subject="B", source="c1")
    log.memory(at("09:00"), "A", "A heard about the party from B", kind="chat", subject="B", source="c1")
    log.memory(at("09:00"), "B", "B heard about the party from A", kind="chat", subject="A", source="c1")
    table = diffusion(log.frame(), ["party"])
    assert list(table["source"]) == ["B", "A"]
    assert tree_text(table).splitlines() == ["A  Feb 13 09:00 (heard from B, who knew only later)",
                                             "└── B  Feb 13 09:00"]


def test_times_come_from_the_start_when_the_log_has_no_time_column():
    frame = party_log().frame(with_time=False)
    table = diffusion(frame, KEYWORDS, start=START + dt.timedelta(days=1))
    assert f"{table['time'].iloc[1]:%b %d %H:%M}" == "Feb 14 10:42"
    untimed = diffusion(frame, KEYWORDS)
    assert untimed["time"].isna().all() and tree_text(untimed).splitlines()[1] == "├── Maria Lopez  +02:42 at Hobbs Cafe"


# -- the keyword judge ------------------------------------------------------------------
@pytest.mark.parametrize(("keyword", "text"), [
    ("party", "Isabella is throwing a party"),
    ("party", "PARTY tonight"),
    ("party", "the parties were fun"),  # plural of -y
    ("party", "the party's guests"),  # possessive
    ("party", "the parties' guests"),
    ("party", "(party)"),
    ("party", "a party -- at five"),  # dashes that do not join words
    ("Valentine", "Valentine's Day"),
    ("Valentine", "Valentine’s Day"),  # curly apostrophe
    ("valentine", "two valentines"),
    ("class", "her classes"),  # -es
    ("Valentine's Day party", "a valentine's   day\nparty"),  # flexible whitespace in a phrase
    ("Valentine's Day party", "Valentine’s Day parties"),
    ("Sam", "Sam's candidacy"),
    ("third-party", "a third-party app"),  # a compound names itself
    ("c++", "she codes in c++ daily"),  # punctuation in a keyword is literal
])
def test_the_judge_finds(keyword, text):
    assert mentions(text, [keyword])


@pytest.mark.parametrize(("keyword", "text"), [
    ("party", "partly cloudy"),
    ("party", "apparty"),
    ("party", "partying all night"),  # only plural and possessive endings, not other word forms
    ("party", "a third-party app"),  # a hyphenated compound is one word: a third party is not a party
    ("party", "party-goers"),
    ("Sam", "Samuel"),
    ("Sam", "the same"),
    ("mayor", "mayoral"),
    ("Hobbs Cafe", "HobbsCafe"),
    ("Valentine's Day party", "Valentine Day party"),
    ("Valentine's Day party", "a party on Valentine's Day"),
    ("party", ""),
])
def test_the_judge_does_not_find(keyword, text):
    assert not mentions(text, [keyword])


def test_the_judge_takes_any_of_several_keywords_and_none_of_no_keyword():
    assert mentions("Sam runs for mayor", ["party", "mayor"]) and not mentions("anything", [])
    assert not mentions("a party", ["", "  "])
