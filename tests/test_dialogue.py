"""Dialogue: turn-by-turn lines, termination, summaries remembered by both, cooldown."""

from __future__ import annotations

import datetime as dt

from agentville.agents.dialogue import END_CHECK_FROM, clean_line
from agentville.agents.timing import CONSOLIDATION_S
from agentville.sim.runner import assemble
from agentville.sim.store import EventStore
from tests.scripted import ScriptedBackend

MEET_AT_THE_CAFE = {"location_place": "Cafe", "reaction": "talk"}


def run(tiny, tmp_path, hours=3, turns=4, cooldown=120.0, **answers):
    backend = ScriptedBackend({**MEET_AT_THE_CAFE, **answers})
    cognition = tiny.cognition.model_copy(update={"conversation_turns": turns,
                                                  "conversation_cooldown_minutes": cooldown})
    with EventStore(tmp_path / "run.db") as store:
        sim = assemble(tiny, store=store, backend=backend, cognition=cognition)
        summary = sim.run(tiny.start + dt.timedelta(hours=hours))
        return store.events(summary.run_id), backend, sim


def conversations(events):
    lines = events[events.kind == "utterance"]
    return {cid: group for cid, group in lines.groupby(lines.data.map(lambda d: d["conversation"]))}


def test_a_conversation_runs_to_the_turn_limit_when_nobody_ends_it(tiny, tmp_path):
    events, _, _ = run(tiny, tmp_path, turns=4, conversation_end="no")
    talks = conversations(events)
    assert talks
    for lines in talks.values():
        assert [d["turn"] for d in lines.data] == [1, 2, 3, 4]
        speakers = list(lines.agent)
        assert speakers[0] != speakers[1] and speakers[::2] == [speakers[0]] * 2  # they take turns
    ends = events[events.kind == "conversation_end"].data
    assert all(e["reason"] == "turn limit" and e["lines"] == 4 for e in ends)


def test_a_speaker_can_end_the_conversation(tiny, tmp_path):
    events, _, _ = run(tiny, tmp_path, turns=6, conversation_end="yes")
    ends = list(events[events.kind == "conversation_end"].data)
    assert ends and all(e["lines"] == END_CHECK_FROM and "ended it" in e["reason"] for e in ends)


def test_a_goodbye_ends_the_conversation(tiny, tmp_path):
    events, _, _ = run(tiny, tmp_path, turns=8, conversation_end="no", utterance="Lovely, see you later!")
    ends = list(events[events.kind == "conversation_end"].data)
    assert ends and all(e["lines"] == 2 and "goodbye" in e["reason"] for e in ends)


def test_both_remember_a_summary_and_the_cooldown_holds(tiny, tmp_path):
    events, _, _ = run(tiny, tmp_path, hours=8, turns=3, cooldown=120.0, conversation_end="no")
    starts = events[events.kind == "conversation_start"]
    assert len(starts) >= 2
    gaps = starts.time.diff().dropna()
    assert (gaps >= dt.timedelta(minutes=120)).all()
    for end in events[events.kind == "conversation_end"].itertuples():
        settled = end.time + dt.timedelta(seconds=CONSOLIDATION_S)  # remembered after a consolidation delay
        chats = events[(events.kind == "memory") & (events.time == settled)
                       & events.data.map(lambda d: d.get("kind") == "chat")]
        assert {(c.agent, c.data["subject"]) for c in chats.itertuples()} == {("Ann", "Bob"), ("Bob", "Ann")}
        assert all(c.data["text"] == end.data["summary"] for c in chats.itertuples())
        # a conversation takes simulated time
        talk = end.data["conversation"]
        start = starts[starts.data.map(lambda d, talk=talk: d["conversation"] == talk)].time.iloc[0]
        assert end.time > start


def test_each_line_draws_on_what_the_speaker_remembers_about_the_listener(tiny, tmp_path):
    _, backend, _ = run(tiny, tmp_path, turns=4, conversation_end="no")
    prompts = [r.prompt for r in backend.requests if r.purpose == "utterance"]
    assert prompts
    for prompt in prompts:
        speaker = prompt.rsplit("\n", 1)[1].rstrip(":")
        listener = "Bob" if speaker == "Ann" else "Ann"
        memories = prompt.split(f"What {speaker} remembers about {listener}:\n", 1)[1]
        assert memories.startswith("- ") and "nothing yet" not in memories.split("\n")[0]
    assert any("Ann: " in p for p in prompts)  # later lines see the conversation so far


def test_conversation_cuts_the_listener_out_of_its_step_and_both_replan(tiny, tmp_path):
    events, _, _ = run(tiny, tmp_path, turns=4, conversation_end="no")
    first_end = events[events.kind == "conversation_end"].iloc[0]
    revisions = events[(events.kind == "plan") & events.data.map(lambda d: d.get("level") == "revision")]
    after = revisions[revisions.time >= first_end.time]
    assert set(after.agent) == {"Ann", "Bob"}
    for _, mine in after.groupby("agent"):
        assert "had a conversation with" in mine.data.iloc[0]["reason"]


def test_lines_are_cleaned_of_name_tags_and_the_listeners_reply():
    assert clean_line('Ann: "Hello Bob!" Bob: hi', "Ann Lee", "Bob") == "Hello Bob!"
    assert clean_line("Sure thing.\nBob: and more", "Ann", "Bob") == "Sure thing."
    assert clean_line("- Ann: Good morning!", "Ann", "Bob") == "Good morning!"
