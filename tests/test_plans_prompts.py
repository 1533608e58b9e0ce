"""What planning prompts say (who, where, what is needed, nothing twice) and answers cut off at the token limit."""

from __future__ import annotations

from agentville.agents.llm.asking import whole_lines
from tests.test_plans_revision import CAFE_TOWN, plans, run

KLAUS = CAFE_TOWN.split("personas:")[0] + """\
personas:
  - name: Klaus
    age: 20
    traits: earnest
    lifestyle: he reads late and goes to bed around 11 pm
    home: "Flat: bedroom"
"""


def test_the_decomposition_prompt_says_who_does_it_and_where(tmp_path):
    _, backend = run(tmp_path, hours=3)
    prompts = [r.prompt for r in backend.requests if r.purpose == "decompose"]
    serving = [p for p in prompts if "serving coffee at the cafe at" in p]
    assert serving and all(p.startswith("Isa, 34. Traits: warm, busy.\nIsa runs the cafe.") for p in prompts)
    assert "at Cafe, in the hall, at the counter" in serving[0]


def test_a_resident_without_a_routine_has_its_lifestyle_said_once(tmp_path):
    _, backend = run(tmp_path, hours=2, text=KLAUS)
    for purpose in ("day_plan", "schedule"):
        prompt = next(r.prompt for r in backend.requests if r.purpose == purpose)
        assert prompt.count("reads late") == 1 and "(no fixed routine)" in prompt, prompt


CUT = "".join(f"- serving the next customer in line number {i} (5 minutes)\n" for i in range(1, 8))


def test_a_list_cut_at_the_token_limit_loses_its_unfinished_last_item(tmp_path):
    assert whole_lines(CUT + "- stands at the counter unti", 128) == CUT
    assert whole_lines("- one (10 minutes)\n- two (5 minutes)", 128) == "- one (10 minutes)\n- two (5 minutes)"
    assert whole_lines(CUT, 128) == CUT  # ended with its line break: complete
    events, _ = run(tmp_path, {"decompose": CUT[2:] + "- stands at the counter unti"}, hours=2)
    steps = [s["activity"] for p in plans(events, "steps") for s in p["steps"]]
    assert steps and not any("unti" in s.split()[-1] for s in steps)
    assert "serving the next customer in line number 7" in steps


def test_a_schedule_cut_at_the_token_limit_loses_its_unfinished_last_line(tmp_path):
    lines = "".join(f"{h:02d}:00 serving coffee and cake to the customers at table {h}\n" for h in range(8, 21))
    events, _ = run(tmp_path, {"schedule": lines + "21:00 closing the ca"}, hours=1)
    day, = plans(events, "day")
    assert not any(r["activity"].endswith("closing the ca") for r in day["schedule"])
    assert day["schedule"][-1]["activity"] == "serving coffee and cake to the customers at table 20"


def test_a_long_item_is_cut_after_a_whole_clause_never_mid_word():
    from agentville.agents.planning.schedule import clean_activity, timed_items

    long = "open the cafe at 8 am; invite customers to the Valentine's Day party; buy decorations for the party"
    assert clean_activity(long) == "open the cafe at 8 am; invite customers to the Valentine's Day party"
    assert clean_activity("a " + "word " * 30).endswith(" word")
    # and a time range is one time, not part of the activity
    assert timed_items("17:10 to 17:15 buying a cake\n09:00 - 10:00: reading") == [(1030, "buying a cake"),
                                                                                (540, "reading")]
