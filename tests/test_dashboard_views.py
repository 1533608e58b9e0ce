"""The dashboard's views as people look at them: interactions on the town map, labels in a crowd, the
"Latest lines" feed, the timeline's colours and the relationship graph (issue 16)."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from agentville.dashboard import interactions, layout, runlog, stores, town
from agentville.dashboard.tabs import relationships, timeline, town_map
from agentville.sim.core import events
from tests.test_dashboard import app, village_db  # noqa: F401 - the fixture, for the AppTest tests

START = {"run_id": "r", "scenario": "S", "status": "finished", "sim_start": "2023-02-13T07:00:00",
         "sim_reached": 3600.0}


def log_of(*rows: tuple[float, str, str | None, dict]) -> runlog.RunLog:
    """A RunLog of (sim_time, kind, agent, data) rows; Ann, Bob, Cy and Di live in the town."""
    started = (0.0, events.RUN_STARTED, None, {"agents": ["Ann", "Bob", "Cy", "Di"]})
    frame = pd.DataFrame([{"seq": i, "sim_time": s, "kind": k, "agent": a, "data": d, "wall": None}
                          for i, (s, k, a, d) in enumerate([started, *rows], 1)])
    return runlog.RunLog(dict(START), frame, None)


def start(s, who, partner, cid, location="Cafe: counter"):
    return s, events.CONVERSATION_START, who, {"conversation": cid, "partner": partner, "location": location}


def say(s, who, listener, cid, text, turn=1):
    return s, events.UTTERANCE, who, {"conversation": cid, "listener": listener, "turn": turn, "text": text}


def end(s, who, partner, cid):
    return s, events.CONVERSATION_END, who, {"conversation": cid, "partner": partner, "lines": 2, "minutes": 1,
                                              "reason": "goodbye", "summary": "they talked"}


TALKS = log_of(start(100, "Ann", "Bob", "Ann/1"), say(100, "Ann", "Bob", "Ann/1", "Hello Bob"),
               say(110, "Bob", "Ann", "Ann/1", "Hi Ann, lovely day", 2),
               start(120, "Cy", "Di", "Cy/1", "Park: bench"), end(130, "Ann", "Bob", "Ann/1"),
               say(140, "Di", "Cy", "Cy/1", "Nice bench"))


# ----- who is talking to whom at t -----

def test_a_talk_shows_from_its_start_until_a_minute_after_its_end():
    assert list(interactions.talks_at(TALKS, 99)["conversation"]) == []
    assert list(interactions.talks_at(TALKS, 100)["conversation"]) == ["Ann/1"]
    both = interactions.talks_at(TALKS, 130 + interactions.LINGER_S)
    assert list(both["conversation"]) == ["Ann/1", "Cy/1"]
    assert list(both["ongoing"]) == [False, True]  # Ann's ended at 130 and lingers, Cy's goes on
    assert list(interactions.talks_at(TALKS, 131 + interactions.LINGER_S)["conversation"]) == ["Cy/1"]
    assert list(interactions.talks_at(TALKS, 131, linger=0)["conversation"]) == ["Cy/1"]


def test_a_talk_carries_its_latest_line_by_t():
    at = interactions.talks_at(TALKS, 105).set_index("conversation")
    assert (at.loc["Ann/1", "speaker"], at.loc["Ann/1", "listener"], at.loc["Ann/1", "text"]) == ("Ann", "Bob",
                                                                                                  "Hello Bob")
    at = interactions.talks_at(TALKS, 125).set_index("conversation")
    assert at.loc["Ann/1", "text"] == "Hi Ann, lovely day"
    assert pd.isna(at.loc["Cy/1", "text"])  # started, nothing said yet
    assert (at.loc["Cy/1", "a"], at.loc["Cy/1", "b"], at.loc["Cy/1", "place"]) == ("Cy", "Di", "Park")
    assert interactions.partners(interactions.talks_at(TALKS, 125)) == {"Ann": "Bob", "Bob": "Ann", "Cy": "Di",
                                                                        "Di": "Cy"}


def test_the_latest_lines_are_the_newest_first_and_at_most_n():
    lines = interactions.latest_lines(TALKS, 200, n=2)
    assert list(lines["text"]) == ["Nice bench", "Hi Ann, lovely day"]
    assert list(zip(lines["speaker"], lines["listener"])) == [("Di", "Cy"), ("Bob", "Ann")]
    assert lines["time"].iloc[0] == pd.Timestamp("2023-02-13 07:02:20")
    assert interactions.latest_lines(TALKS, 105)["text"].tolist() == ["Hello Bob"]
    assert interactions.latest_lines(TALKS, 50).empty


# ----- agents at a place: fanned out, talkers facing each other, few names -----

PLACES = pd.DataFrame({"place": ["Cafe", "Park"], "kind": ["cafe", "park"], "x": [20.0, 80.0], "y": [50.0, 50.0]})


def states_at(place_of_agent: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame([{"agent": a, "place": p, "location": f"{p}: room", "activity": "sitting", "since": None,
                          "emoji": "🙂", "walking_to": None, "progress": 0.0} for a, p in place_of_agent.items()])


def test_agents_at_one_place_sit_apart_and_partners_face_each_other():
    names = [f"P{i}" for i in range(6)]
    partners = {"P1": "P4", "P4": "P1"}
    shown = town.agent_positions(states_at(dict.fromkeys(names, "Cafe")), PLACES, partners).set_index("agent")
    points = [(shown.loc[n, "x"], shown.loc[n, "y"]) for n in names]
    gaps = [math.dist(a, b) for i, a in enumerate(points) for b in points[i + 1:]]
    # no marker on another: a marker is about 1.5 hundredths of the map across
    assert min(gaps) > 3 * town.map_unit(PLACES)
    assert math.dist(points[1], points[4]) == pytest.approx(max(gaps))  # the talkers at the fan's two ends
    assert (shown["y"] <= 50 + 1e-9).all()  # none below the place: its name is written there


def test_a_crowd_is_not_named_on_the_map_but_noted_with_the_talkers_first():
    crowd = {f"P{i}": "Cafe" for i in range(5)} | {"Solo": "Park"}
    shown = town.agent_positions(states_at(crowd), PLACES, {"P3": "P4", "P4": "P3"})
    tags = dict(zip(shown["agent"], shown["tag"]))
    assert tags["Solo"] == "🙂 Solo" and all(tags[f"P{i}"] == "" for i in range(5))
    assert set(shown["label"]) >= {"🙂 P0", "🙂 Solo"}  # names stay for the hover
    talks = pd.DataFrame({"a": ["P3"], "b": ["P4"], "ongoing": [True], "started": [0.0], "speaker": ["P3"],
                          "text": ["hi"]})
    notes = town_map.crowd_notes(town_map.with_talks(shown, talks), PLACES)
    assert notes.to_dict("records") == [{"x": 20.0, "y": 50.0, "place": "Cafe", "note": "P3, P4 +3 more"}]
    few = town.agent_positions(states_at({"A": "Cafe", "B": "Cafe", "C": "Cafe"}), PLACES)
    assert list(few["tag"]) == ["🙂 A", "🙂 B", "🙂 C"] and town_map.crowd_notes(few, PLACES).empty


def test_a_big_crowd_fills_a_half_disc_without_overlaps():
    offsets = layout.fan(60, 3.0)
    assert all(dy <= 1e-9 for _, dy in offsets)  # none below the place, where its name is
    assert min(math.dist(a, b) for i, a in enumerate(offsets) for b in offsets[i + 1:]) > 2.0


# ----- the town map's layers -----

def map_layers(log: runlog.RunLog, t: float, places: pd.DataFrame, where: dict[str, str]) -> dict:
    talks = interactions.talks_at(log, t)
    agents = town_map.with_talks(town.agent_positions(states_at(where), places, interactions.partners(talks)), talks)
    spec = town_map.chart(places, pd.DataFrame(columns=["x", "y", "x2", "y2"]), agents, talks).to_dict()
    return {"spec": spec, "agents": agents, "talks": talks}


def rows_of(spec: dict) -> list[dict]:
    return [row for rows in spec["datasets"].values() for row in rows]


def test_the_map_draws_a_line_between_talkers_and_their_latest_line_by_the_speaker():
    long = "I was thinking we could plan the Valentine's party at the cafe together"
    log = log_of(start(100, "Ann", "Bob", "Ann/1"), say(100, "Ann", "Bob", "Ann/1", long))
    drawn = map_layers(log, 105, PLACES, {"Ann": "Cafe", "Bob": "Cafe", "Cy": "Park", "Di": "Park"})
    rows = rows_of(drawn["spec"])
    links = [r for r in rows if "talk" in r]
    assert [(r["talk"], r["line"]) for r in links] == [("Ann ↔ Bob", f"Ann: {long}")]
    at = drawn["agents"].set_index("agent")
    assert (links[0]["x"], links[0]["x2"]) == (at.loc["Ann", "x"], at.loc["Bob", "x"])
    length = math.dist((links[0]["x"], links[0]["y"]), (links[0]["x2"], links[0]["y2"]))
    assert length > 4 * town.map_unit(PLACES)  # a line to see between the markers (~1.5 hundredths of the map)
    bubble = next(r for r in rows if "bubble" in r)
    assert bubble["bubble"] == "“" + long[:39] + "…”" and bubble["line"] == long and bubble["speaker"] == "Ann"
    assert bubble["x"] == at.loc["Ann", "x"] and bubble["y"] <= at.loc["Ann", "y"]
    hover = at.loc["Bob"]
    assert (hover["talking_with"], hover["last_line"]) == ("Ann", f"Ann: {long}")
    assert at.loc["Cy", "talking_with"] == "" and at.loc["Cy", "last_line"] == ""
    tooltips = [t["field"] for layer in drawn["spec"]["layer"] for t in layer["encoding"].get("tooltip", [])
                if isinstance(t, dict)]
    assert {"agent", "activity", "location", "talking_with", "last_line"} <= set(tooltips)


def test_lines_said_at_one_place_stack_instead_of_writing_over_each_other():
    log = log_of(start(100, "Ann", "Bob", "Ann/1"), say(100, "Ann", "Bob", "Ann/1", "one"),
                 start(100, "Cy", "Di", "Cy/1"), say(101, "Cy", "Di", "Cy/1", "two"))
    drawn = map_layers(log, 105, PLACES, dict.fromkeys(["Ann", "Bob", "Cy", "Di"], "Cafe"))
    bubbles = [r for r in rows_of(drawn["spec"]) if "bubble" in r]
    assert len(bubbles) == 2 and abs(bubbles[0]["y"] - bubbles[1]["y"]) >= 2 * town.map_unit(PLACES)


# ----- timeline colours -----

def test_every_smallville_place_gets_its_own_timeline_colour_at_every_time():
    from agentville.sim.scenario import load_scenario
    from tests.conftest import WORLDS

    places = pd.Series([p.name for p in load_scenario(WORLDS / "smallville.yaml").places])
    assert len(places) >= 19
    scale = timeline.place_scale(places, pd.Series(["Hobbs Cafe"])).to_dict()
    colours = dict(zip(scale["domain"], scale["range"]))
    assert len(set(colours.values())) == len(places)  # 19 places, 19 colours (there were 10)
    rgb = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in colours.values()]
    assert min(math.dist(a, b) for i, a in enumerate(rgb) for b in rgb[i + 1:]) > 25  # told apart, not just unequal
    later = timeline.place_scale(places, pd.Series(["Johnson Park", "Somewhere new"])).to_dict()
    assert dict(zip(later["domain"], later["range"]))["Hobbs Cafe"] == colours["Hobbs Cafe"]
    assert "Somewhere new" in later["domain"]


# ----- relationships -----

def positions(dot: str) -> dict[str, tuple[float, float]]:
    return {name: (float(x), float(y)) for name, x, y in re.findall(r'^"([^"]+)" \[pos="([-\d.]+),([-\d.]+)!"', dot,
                                                                      re.MULTILINE)}


def pairs_of(*rows: tuple[str, str, int]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["a", "b", "conversations"])


def test_the_relationship_graph_keeps_every_agent_in_place_as_ties_grow():
    agents = [f"Agent {i}" for i in range(25)]
    early = relationships.relationship_dot(pairs_of(("Agent 1", "Agent 2", 1)), agents)
    late = relationships.relationship_dot(pairs_of(("Agent 1", "Agent 2", 4), ("Agent 3", "Agent 9", 1),
                                          ("Agent 0", "Agent 24", 2)), agents)
    assert positions(early) == positions(late) and len(positions(late)) == 25
    spots = list(positions(late).values())
    # no two boxes overlap (inches: a name is about 1.5 wide, 0.5 high)
    assert all(abs(a[0] - b[0]) >= 1.5 or abs(a[1] - b[1]) >= 0.5 for i, a in enumerate(spots) for b in spots[i + 1:])


def test_relationship_edges_grow_with_conversations_and_a_focus_keeps_only_its_ties():
    pairs = pairs_of(("Ann", "Bob", 6), ("Bob", "Cy", 3), ("Cy", "Di", 1))
    dot = relationships.relationship_dot(pairs, ["Ann", "Bob", "Cy", "Di"])
    widths = {m[0]: float(m[1]) for m in re.findall(r'"(\w+)" -- "\w+" \[penwidth=([\d.]+)', dot)}
    assert widths["Ann"] > widths["Bob"] > widths["Cy"]
    alphas = [int(a, 16) for a in re.findall(r'color="#3b6ea5([0-9a-f]{2})"', dot)]
    assert alphas == sorted(alphas, reverse=True) and alphas[0] == 255
    assert 'tooltip="Ann – Bob: 6 conversations"' in dot
    focused = relationships.relationship_dot(pairs, ["Ann", "Bob", "Cy", "Di"], focus=["Ann"])
    assert re.findall(r'"(\w+)" -- "(\w+)"', focused) == [("Ann", "Bob")]
    assert positions(focused) == positions(dot)


def test_the_circle_puts_housemates_side_by_side(monkeypatch, village_db):  # noqa: F811 - the fixture
    log = stores.load_run(village_db)
    homes = {p.name: p.home.split(":")[0] for p in log.scenario.personas}
    order = relationships.circle_order(log)
    assert sorted(order) == sorted(log.agents)
    assert [homes[a] for a in order] == sorted(homes[a] for a in order)


# ----- the page (AppTest) -----

def test_the_town_map_has_a_latest_lines_feed(monkeypatch, village_db):  # noqa: F811 - the fixture
    test = app(monkeypatch, village_db)
    log = stores.load_run(village_db)
    newest = interactions.latest_lines(log, log.reached, 1).iloc[0]
    assert any(m.value == "**Latest lines**" for m in test.markdown)
    captions = [c.value.replace("\\", "").replace("\u2060", "") for c in test.caption]  # md's escapes undone
    header = captions.index(f"**{newest['time']:%H:%M}** · {newest['speaker']} → {newest['listener']}")
    assert captions[header + 1] == newest["text"]


def test_the_relationships_tab_filters_by_agent(monkeypatch, village_db):  # noqa: F811 - the fixture
    test = app(monkeypatch, village_db)
    log = stores.load_run(village_db)
    everyone = interactions.relationships(log, log.reached)
    chosen = everyone.iloc[-1]["a"]
    test.multiselect(key="ties_of").set_value([chosen]).run()
    assert not test.exception
    table = next(d.value for d in test.dataframe if list(d.value.columns) == ["a", "b", "conversations"])
    assert len(table) == ((everyone["a"] == chosen) | (everyone["b"] == chosen)).sum()
    assert ((table["a"] == chosen) | (table["b"] == chosen)).all()


def charts(test) -> list[dict]:
    import json

    return [json.loads(chart.proto.spec) for chart in test.get("vega_lite_chart")]


def test_the_page_draws_a_talk_on_the_map_and_colours_the_timeline_by_place(monkeypatch, village_db):  # noqa: F811
    test = app(monkeypatch, village_db)
    log = stores.load_run(village_db)
    minute = next(m for m in range(int(log.reached // 60)) if len(interactions.talks_at(log, m * 60, linger=0)))
    test.slider(key="minute").set_value(float(minute)).run()
    assert not test.exception
    town = next(c for c in charts(test) if any(layer["mark"].get("type") == "square" for layer in c.get("layer", [])))
    marks = [(layer["mark"]["type"], layer["mark"].get("color"), layer["encoding"].get("text", {}).get("field"))
             for layer in town["layer"]]
    assert ("rule", town_map.TALK, None) in marks  # the line between the two talking
    assert ("text", town_map.TALK, "bubble") in marks  # what was said last, by the speaker
    bars = next(c for c in charts(test) if c.get("mark", {}).get("type") == "bar"
                and c["encoding"]["color"]["field"] == "place")
    scale = bars["encoding"]["color"]["scale"]
    assert scale["range"] == timeline.PLACE_COLOURS
    assert scale["domain"][:len(log.scenario.places)] == [p.name for p in log.scenario.places]
