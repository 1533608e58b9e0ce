"""Dialogue: turn-by-turn lines, termination, summaries remembered by both, cooldown."""

from __future__ import annotations

import datetime as dt

import pytest

from agentville.agents.llm.asking import Unparseable
from agentville.agents.llm.timing import CONSOLIDATION_S
from agentville.agents.talk.conversation import clean_line
from agentville.agents.talk.dialogue import END_CHECK_FROM
from agentville.sim.runtime.runner import assemble
from agentville.sim.store.eventstore import EventStore
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
    def goodbye(request):  # a different line each time: a repeated line is refused
        return f"Lovely to chat about {request.prompt.count(':')} things, see you later!"

    events, _, _ = run(tiny, tmp_path, turns=8, conversation_end="no", utterance=goodbye)
    ends = list(events[events.kind == "conversation_end"].data)
    assert ends and all(e["lines"] == 2 and "goodbye" in e["reason"] for e in ends)


def test_both_remember_a_summary_and_the_cooldown_holds(tiny, tmp_path):
    events, _, _ = run(tiny, tmp_path, hours=8, turns=3, cooldown=120.0, conversation_end="no")
    starts = events[events.kind == "conversation_start"]
    assert len(starts) >= 2
    gaps = starts.time.diff().dropna()
    assert (gaps >= dt.timedelta(minutes=120)).all()
    for end in events[events.kind == "conversation_end"].itertuples():
        talk = end.data["conversation"]
        settled = end.time + dt.timedelta(seconds=CONSOLIDATION_S)  # remembered after a consolidation delay
        summaries = events[(events.kind == "memory") & (events.time == settled)
                           & events.data.map(lambda d, s=end.data["summary"]: d.get("text") == s)]
        assert {(c.agent, c.data["subject"], c.data["kind"], c.data.get("source")) for c in summaries.itertuples()} == {
            ("Ann", "Bob", "chat", talk), ("Bob", "Ann", "chat", talk)}
        # a conversation takes simulated time
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
    events, backend, _ = run(tiny, tmp_path, turns=4, conversation_end="no", revise_needed="yes",
                             conversation_takeaway=" the other is busy today\nNext: stop by the park after lunch")
    assert len(events[events.kind == "conversation_end"])
    rethought = {r.agent for r in backend.requests
                 if r.purpose == "revise_schedule" and "now plans to stop by the park after lunch" in r.prompt}
    assert rethought == {"Ann", "Bob"}


def test_a_conversation_that_leaves_nothing_to_do_does_not_rewrite_the_day(tiny, tmp_path):
    events, _, _ = run(tiny, tmp_path, turns=4, conversation_end="no", conversation_takeaway=" nothing new\nNext: nothing")
    assert len(events[events.kind == "conversation_end"])
    asked = [d["prompt"] for d in events[events.kind == "llm_call"].data if d["purpose"] == "revise_schedule"]
    assert not [p for p in asked if "talked with" in p]


def test_lines_are_cleaned_of_name_tags_and_the_listeners_reply():
    assert clean_line('Ann: "Hello Bob!" Bob: hi', "Ann Lee", "Bob") == "Hello Bob!"
    assert clean_line("Sure thing.\nBob: and more", "Ann", "Bob") == "Sure thing."
    assert clean_line("- Ann: Good morning!", "Ann", "Bob") == "Good morning!"


@pytest.mark.parametrize("answer, why", [
    ("Sam Moore:", "only a name tag"),
    ("Bob:", "the listener's line"),
    ("Bob: fine, thanks", "the listener's line"),
    ("  ", "empty line"),
    ("...", "empty line"),
    ("Hello Bob, nice to see you!", "repeats a line"),
    ("hello bob -- nice to see you", "repeats a line"),
])
def test_a_line_must_say_something_new(answer, why):
    with pytest.raises(Unparseable, match=why):
        clean_line(answer, "Ann", "Bob", said=("Hello Bob, nice to see you!",))


def test_lines_that_say_something_pass():
    assert clean_line("Sam Moore: is he running?", "Ann", "Bob") == "Sam Moore: is he running?"
    assert clean_line("Okay.", "Ann", "Bob", said=("Hello!",)) == "Okay."


def test_a_name_tag_answer_is_retried_then_the_plain_line_is_said(tiny, tmp_path):
    events, _, _ = run(tiny, tmp_path, turns=4, conversation_end="no", utterance="Sam Moore:")
    failed = events[(events.kind == "parse_failed") & events.data.map(lambda d: d.get("purpose") == "utterance")]
    assert len(failed) and all(d["reason"] == "only a name tag" for d in failed.data)
    said = [d["text"] for d in events[events.kind == "utterance"].data]
    assert said and not [t for t in said if t.endswith(":")]


def test_no_end_check_before_news_has_had_a_chance(tiny, tmp_path):
    _, backend, _ = run(tiny, tmp_path, turns=8, conversation_end="yes")
    checks = [r.prompt for r in backend.requests if r.purpose == "conversation_end"]
    assert checks
    for prompt in checks:  # the transcript before the question has at least four lines
        transcript = prompt.split("\n\nHas this conversation", 1)[0]
        assert len(transcript.splitlines()) >= 4
