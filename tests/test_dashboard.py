"""The dashboard's views on a fixture run, through Streamlit's AppTest (no browser)."""

from __future__ import annotations

import datetime as dt
import hashlib
import html.parser
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markdown_it import MarkdownIt  # a CommonMark reader (installed with transformers, through typer and rich)
from streamlit.testing.v1 import AppTest

from agentville.agents.memory.stream import MemoryStream, RetrievalWeights
from agentville.dashboard import calls, interactions, minds, runlog, stores
from agentville.sim.core import events, retrieval
from agentville.sim.generation import LLMCache
from agentville.sim.generation import cache as cache_module
from agentville.sim.lab.experiment import Experiment
from agentville.sim.runtime.runner import assemble
from agentville.sim.store.eventstore import EventStore
from tests.conftest import ROOT, WORLDS
from tests.scripted import ScriptedBackend

APP = str(ROOT / "dashboard" / "app.py")
HOSTILE = "<script>alert('owned')</script><b>bold</b>"


@pytest.fixture(scope="module")
def village_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("dash") / "village.db"
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", str(WORLDS / "the_ville_3.yaml"), "--llm", "fake",
                           "--until", "+1d", "--db", str(db), "--no-progress", "--importance", "model"],
                          capture_output=True, text=True, cwd=ROOT)  # the model rates: consolidation asks it
    assert done.returncode == 0, done.stderr
    return db


def app(monkeypatch, db: Path) -> AppTest:
    monkeypatch.setenv("AGENTVILLE_DB", str(db))
    test = AppTest.from_file(APP, default_timeout=60)
    test.run()
    assert not test.exception, [e.value for e in test.exception]
    return test


def shown_time(test: AppTest) -> str:
    return next(m.value for m in test.markdown if m.value.startswith("**Simulated time:")).strip("*")


def texts(test: AppTest) -> str:
    return "\n".join(t.value for t in test.text)


def test_the_schedule_reads_start_end_activity(monkeypatch, village_db):
    test = app(monkeypatch, village_db)
    schedule = next(d.value for d in test.dataframe if "activity" in d.value.columns and "start" in d.value.columns)
    assert list(schedule.columns) == ["start", "end", "activity"] and len(schedule)


def test_the_inspector_shows_what_the_agent_is_busy_with_as_it_last_revised_it(monkeypatch, village_db):
    test = app(monkeypatch, village_db)
    log = stores.load_run(village_db)
    name = test.selectbox(key="agent").value
    revised = log.kind("identity")
    revised = revised[revised["agent"] == name]
    assert len(revised), "a day's run revises every agent's 'currently' at night"
    assert f"Currently: {revised['data'].iloc[-1]['currently']}" in texts(test)
    test.slider(key="minute").set_value(0.0).run()  # before the night: the scenario's own line
    persona = next(p for p in log.scenario.personas if p.name == name)
    assert f"Currently: {persona.currently.strip()}" in texts(test)


def test_the_page_shows_the_run_its_agents_and_the_latest_time(monkeypatch, village_db):
    test = app(monkeypatch, village_db)
    log = stores.load_run(village_db)
    assert shown_time(test) == f"Simulated time: {log.at(log.reached):%Y-%m-%d %H:%M}"
    town = test.dataframe[0].value
    assert sorted(town["agent"]) == ["Isabella Rodriguez", "Klaus Mueller", "Maria Lopez"]
    assert test.selectbox(key="agent").options == ["Isabella Rodriguez", "Maria Lopez", "Klaus Mueller"]


def test_the_inspector_counts_memories_and_shows_the_plan(monkeypatch, village_db):
    test = app(monkeypatch, village_db)
    log = EventStore(village_db).events()
    for name in ("Isabella Rodriguez", "Klaus Mueller"):
        test.selectbox(key="agent").set_value(name).run()
        count = int(((log.kind == events.MEMORY) & (log.agent == name)).sum())
        assert any(m.value == f"**Memory stream** — {count} memories" for m in test.markdown)
        assert any(m.value.startswith("**Plan for 2023-02-1") for m in test.markdown)
        stream = next(d.value for d in test.dataframe if "importance" in d.value.columns)
        assert len(stream) == count and stream["score"].is_monotonic_decreasing


def test_a_known_utterance_is_in_the_conversation_feed_and_search_filters(monkeypatch, village_db):
    test = app(monkeypatch, village_db)
    log = EventStore(village_db).events()
    line = log[log.kind == events.UTTERANCE].iloc[0]
    assert f"{line.agent}: {line.data['text']}" in texts(test)
    test.text_input(key="search").input("no such words anywhere").run()
    assert any(c.value == "0 conversations" for c in test.caption)


def test_moving_the_slider_rebuilds_the_past(monkeypatch, village_db):
    test = app(monkeypatch, village_db)
    assert test.toggle(key="follow").disabled  # a finished run has nothing to follow
    test.slider(key="minute").set_value(90.0).run()  # 09:30
    assert shown_time(test) == "Simulated time: 2023-02-13 09:30"
    log = EventStore(village_db).events()
    early = log[(log.sim_time <= 90 * 60) & (log.kind == events.MEMORY) & (log.agent == "Isabella Rodriguez")]
    assert any(m.value == f"**Memory stream** — {len(early)} memories" for m in test.markdown)


def test_agent_text_is_shown_as_text_never_as_html(monkeypatch, tiny, tmp_path):
    db = tmp_path / "hostile.db"
    backend = ScriptedBackend({"location_place": "Cafe", "reaction": "talk", "conversation_end": "no",
                               "utterance": HOSTILE})
    with EventStore(db) as store:
        assemble(tiny, store=store, backend=backend).run(tiny.start + dt.timedelta(hours=3))
    test = app(monkeypatch, db)
    assert HOSTILE in texts(test)  # verbatim, in plain-text elements
    assert not any("<script>" in m.value for m in test.markdown)


# -- text from the run is text: no Markdown, no HTML, no remote images -------------------------------------------
# Persona and place names may not hold ':' (it separates "Place: area: object"), so their links and images are
# relative: the browser would fetch them from the dashboard's own server. Everything else links to ``url``.
ANN = "Ann ![pic](/hostile/ann.png) [site](/hostile/ann) $x^2$ <img src=/hostile/ann-img.png>"
BOB = "Bob **bold** <b>html</b> ~~gone~~ &lt;i&gt; `code` -> -- # not a heading"
CAFE = "Cafe __under__ <i>italic</i> | a | table | [c](/hostile/cafe)"
LONG = 5000


def hostile(tag: str, url: str) -> str:
    """Every kind of markup Streamlit reads, with links and images to ``url``; ``tag`` tells the texts apart."""
    return (f"{tag}: ![img]({url}/hostile/{tag}.png) [link]({url}/hostile/{tag}) **{tag} bold** <b>{tag} html</b> "
            f"<img src={url}/hostile/{tag}-img.png> {url}/hostile/{tag}-bare www.hostile.test me@hostile.test "
            f":red[{tag}] :smile: :streamlit: :material/home: $x^2$ -> <= --")


def fit_in_a_moment(request) -> str:
    """A revision that fits ten minutes of thinking in before the window's plan (which it keeps)."""
    window = request.prompt.split("What just happened")[-2].split("'s schedule from")[-1].strip().splitlines()[1:]
    first = dt.datetime.strptime(window[0][:5], "%H:%M") + dt.timedelta(minutes=10)
    return "\n".join([" thinking it over", f"{first:%H:%M}{window[0][5:]}", *window[1:]])


def insights(url: str):
    """Insights that parse, hostile and new each time (an insight already held is not stored again)."""
    count = iter(range(1, 1000))

    def write(request) -> str:
        n = next(count)
        return f" {ANN if ANN in request.prompt else BOB} keeps in mind that {hostile(f'insight{n}', url)} (because of 1)"
    return write


def hostile_store(folder: Path, url: str) -> Path:
    """A run whose names, memories, utterances, summaries, reflections and whispers are all hostile text.

    Ann and Bob meet at the cafe and talk (scripted lines, cut by the engine); Bob hears a scenario whisper,
    Ann one from the experiment API (hostile text and 5,000 more characters); both reflect.
    """
    scenario = folder / "hostile.yaml"
    scenario.write_text(json.dumps({  # JSON is YAML, and quotes every string
        "name": f"Town <b>x</b> [l]({url}/hostile/town) **s**", "start": "2023-02-13T07:00", "seed": 3,
        "places": [{"name": CAFE, "xy": [0, 0], "areas": [{"name": "hall", "objects": ["counter", "table"]}]},
                   {"name": "Home", "xy": [10, 0], "areas": [{"name": "bedroom", "objects": ["bed"]},
                                                            {"name": "kitchen", "objects": ["stove"]}]}],
        "paths": [{"between": [CAFE, "Home"], "minutes": 10}],
        "personas": [
            {"name": ANN, "age": 30, "traits": "cheerful **t**", "home": "Home: bedroom", "memories": [hostile("seed", url)],
             "routine": [{"at": "07:00", "activity": "waking up", "place": "Home: bedroom"},
                         {"at": "08:00", "activity": "opening **the** cafe", "place": f"{CAFE}: hall: counter"}]},
            {"name": BOB, "age": 41, "traits": "quiet", "home": "Home: kitchen",
             "routine": [{"at": "07:30", "activity": "cooking breakfast", "place": "Home: kitchen: stove"},
                         {"at": "09:00", "activity": "reading", "place": f"{CAFE}: hall: table"}]}],
        "interventions": [{"at": "2023-02-13T09:30", "agent": BOB,
                           "text": f"![w]({url}/hostile/w.png) **w bold** :red[w] $w$"}],
    }))
    backend = ScriptedBackend({"location_place": CAFE, "reaction": "talk", "conversation_end": "no",
                               "utterance": hostile("said", url), "revise_schedule": fit_in_a_moment,
                               "reflection_insights": insights(url),
                               "conversation_summary": hostile("summary", url), "importance": "9"})
    db = folder / "hostile.db"
    with Experiment(scenario, db=db, backend=backend, reflection_threshold=30) as exp:
        exp.run("+2h")
        exp.whisper(ANN, hostile("whisper", url) + " " + "W" * LONG)
        exp.run("+2h")
    return db


class _Shown(html.parser.HTMLParser):
    """The text and the tags (with the text inside each) of a piece of HTML."""

    def __init__(self, source: str):
        super().__init__()
        self.text, self.tags, self.open = "", [], []
        self.feed(source)

    def handle_starttag(self, tag, attrs):
        self.tags.append([tag, dict(attrs), ""])
        self.open.append(self.tags[-1])

    def handle_endtag(self, tag):
        if self.open and self.open[-1][0] == tag:
            self.open.pop()

    def handle_data(self, data):
        self.text += data
        for element in self.open:
            element[2] += data


COMMONMARK = MarkdownIt("commonmark").enable(["strikethrough", "table"])
JOINER = "\u2060"  # invisible: how the dashboard breaks patterns Streamlit rewrites after parsing


def markdown_sources(test: AppTest) -> list[str]:
    """The source of every element Streamlit reads as Markdown (alerts, headings, captions, expander labels)."""
    elements = [*test.markdown, *test.caption, *test.title, *test.header, *test.subheader, *test.info,
                *test.warning, *test.error]
    return [e.value for e in elements] + [e.label for e in test.expander]


def check_shown_as_text(sources: list[str], literal: list[str]) -> None:
    """Each source, read as CommonMark, makes no link, image or markup of the run's text, and reads as
    ``literal``; the Markdown Streamlit adds (math, :directives:, shortcodes, arrows) finds nothing to read."""
    shown = []
    for source in sources:
        page = _Shown(COMMONMARK.render(source))
        made = [(tag, attrs, inside) for tag, attrs, inside in page.tags if tag not in ("p", "strong", "h4")]
        assert not made, f"markup made of {source[:300]!r}: {made}"
        assert not any(tag == "strong" and ("bold" in inside or "*" in inside) for tag, _, inside in page.tags), source
        # $...$ (math) and :name (directives, shortcodes, icons) only with the $ or the : escaped
        assert not re.search(r"(?<!\\)\$|(?<!\\):[A-Za-z+-]", source), f"unescaped $ or :name in {source[:300]!r}"
        text = page.text.replace(JOINER, "")
        assert not re.search(r"(^|\s)(<->|->|<-|--|>=|<=|~=)(\s|$)", page.text), f"an arrow Streamlit rewrites: {text!r}"
        assert not re.search(r"https?://|www\.|@\w", page.text), f"a link GitHub Markdown finds: {text[:300]!r}"
        shown.append(text)
    for expected in literal:
        assert any(expected in text for text in shown), f"{expected!r} is not shown as it is"


def test_text_from_the_run_is_never_read_as_markdown(monkeypatch, tmp_path):
    url = "http://127.0.0.1:9"
    db = hostile_store(tmp_path, url)
    test = app(monkeypatch, db)
    seen_text = texts(test)
    check_shown_as_text(markdown_sources(test), [
        "Town <b>x</b> [l]", f"2 agents: {ANN}, {BOB}", ANN,  # the title, the map's caption, the inspector's
        f"thought: {hostile('whisper', url)}",  # a revision of Ann's plan, for the whisper
        f"{ANN} keeps in mind that",  # her reflections (their labels)
        f"{BOB} & {ANN} · Cafe __under__ <i>italic</i> |",  # the conversation's title (cut: it is long)
        hostile("summary", url).split(" **")[0]])  # its summary (lines and summaries are cut at 300 characters)
    assert f"{BOB}: {hostile('said', url).split(' **')[0]}" in seen_text  # the lines, as plain text
    stream = next(d.value for d in test.dataframe if "importance" in d.value.columns)
    assert any(f"{hostile('whisper', url)} {'W' * LONG}" in text for text in stream["text"])  # the whole whisper
    assert all(len(e.label) < 500 for e in test.expander)  # long labels are cut (the text is whole below)
    test.selectbox(key="agent").set_value(BOB).run()
    check_shown_as_text(markdown_sources(test), [BOB, "thought: ![w]("])
    assert not test.exception


def test_a_store_name_in_an_alert_is_shown_as_text(monkeypatch, tmp_path):
    # a missing store is named (by its file name, no server folders: no "/" in it) in an alert, which reads Markdown
    for name in ("![i](hostile.png) **db** <b>db <img src=x> :red[db] $x$ www.example.db",
                 f"{'x' * LONG}.db"):  # too long a name for the file system: missing all the same
        monkeypatch.setenv("AGENTVILLE_DB", f"{tmp_path}/{name}")
        test = AppTest.from_file(APP, default_timeout=60).run()
        assert not test.exception, [e.value for e in test.exception]
        check_shown_as_text([e.value for e in test.error], [f"{name} is gone: no such file (deleted or moved?)"])


def test_the_dashboard_cannot_write_to_the_store(monkeypatch, village_db):
    before = hashlib.sha256(village_db.read_bytes()).hexdigest()
    app(monkeypatch, village_db)
    assert hashlib.sha256(village_db.read_bytes()).hexdigest() == before
    store = runlog.open_store(village_db)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        store.db.execute("DELETE FROM events")


def test_without_a_store_the_page_lists_the_runs_in_a_folder(monkeypatch, village_db):
    monkeypatch.delenv("AGENTVILLE_DB", raising=False)
    monkeypatch.setenv("AGENTVILLE_RUNS_DIR", str(village_db.parent))
    test = AppTest.from_file(APP, default_timeout=60).run()
    assert not test.exception
    listing = test.dataframe[0].value
    assert list(listing["db"]) == [village_db.name] and listing["scenario"].iloc[0] == "The Ville (3 agents)"


def test_dashboard_command_rejects_a_missing_store(tmp_path):
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "dashboard", str(tmp_path / "none.db")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "no such event store" in done.stderr and "Traceback" not in done.stderr


def test_relationships_and_generation_views_count_what_the_log_holds(monkeypatch, village_db):
    test = app(monkeypatch, village_db)
    log = EventStore(village_db).events()
    pairs = next(d.value for d in test.dataframe if "conversations" in d.value.columns)
    assert pairs["conversations"].sum() == (log.kind == events.CONVERSATION_END).sum() > 0
    usage = next(d.value for d in test.dataframe if "cache_hit_%" in d.value.columns)
    assert usage.loc["TOTAL", "calls"] == (log.kind == events.LLM_CALL).sum()


def test_play_moves_the_replay_forward(monkeypatch, village_db):
    test = app(monkeypatch, village_db)
    test.slider(key="minute").set_value(60.0).run()
    assert shown_time(test) == "Simulated time: 2023-02-13 09:00"
    test.toggle(key="playing").set_value(True).run()
    assert test.slider(key="minute").value > 60.0
    assert shown_time(test) > "Simulated time: 2023-02-13 09:00"


# -- one formula, one place: the dashboard reuses the store's, the cache's and the retrieval's code ----------
EMBEDDER = "test-embedder"
TEXTS = ["Ann opened the cafe", "Bob read a book at the cafe", "the stove is on", "Ann likes the park",
         "Bob is planning a party", "it is raining"]
CREATED = [0.0, 1800.0, 3600.0, 4 * 3600.0, 9 * 3600.0, 9 * 3600.0]
IMPORTANCE = [3, 7, 2, 5, 9, 5]


def memory_log(tmp_path: Path, vectors: np.ndarray) -> runlog.RunLog:
    """A run log holding Ann's memories, in a store whose answer cache holds their embeddings."""
    db = tmp_path / "scores.db"
    with EventStore(db) as store:
        LLMCache(store.db).put_vectors(EMBEDDER, TEXTS, vectors)
    rows = [(i + 1, created, events.MEMORY, "Ann",
             {"id": i, "kind": "event", "text": text, "importance": importance, "subject": None, "evidence": [],
              "depth": 0}, None)
            for i, (text, created, importance) in enumerate(zip(TEXTS, CREATED, IMPORTANCE))]
    frame = pd.DataFrame(rows, columns=["seq", "sim_time", "kind", "agent", "data", "wall"])
    run = {"run_id": "r", "sim_start": "2023-02-13T07:00:00", "status": events.FINISHED,
           "settings": {"embedder": EMBEDDER}, "db_path": str(db)}
    return runlog.RunLog(run, frame, None)


def stream_scores(vectors: np.ndarray, query: np.ndarray, now: float, *, relevance: float,
                  decay: float) -> np.ndarray:
    """What agents.memory scores for the same memories (never accessed since they were made)."""
    stream = MemoryStream(weights=RetrievalWeights(relevance=relevance), decay=decay)
    for text, created, importance, vector in zip(TEXTS, CREATED, IMPORTANCE, vectors):
        stream.add("event", text, now=created, importance=importance, embedding=vector)
    return stream.scores(query, now)


def check_scores_match(tmp_path: Path) -> None:
    vectors = np.random.default_rng(3).normal(size=(len(TEXTS), 16)).astype(np.float32)
    log = memory_log(tmp_path, vectors)
    now = 12 * 3600.0
    shown = minds.memories(log, "Ann", now)
    assert list(shown["text"]) == TEXTS and "relevance" not in shown
    np.testing.assert_allclose(shown["recency"], retrieval.recency_scores(np.array(CREATED), now,
                                                                          retrieval.RECENCY_DECAY))
    np.testing.assert_allclose(shown["score"], stream_scores(vectors, vectors[0], now, relevance=0.0,
                                                             decay=retrieval.RECENCY_DECAY), rtol=1e-6)
    focused = minds.memories(log, "Ann", now, focus=TEXTS[1])
    np.testing.assert_allclose(focused["score"], stream_scores(vectors, vectors[1], now, relevance=1.0,
                                                               decay=retrieval.RECENCY_DECAY), rtol=1e-5)


def test_the_dashboards_memory_scores_are_the_retrievals(tmp_path):
    check_scores_match(tmp_path)


def test_the_dashboard_follows_a_change_of_the_retrieval_scoring(tmp_path, monkeypatch):
    """A second copy of the decay or the normalisation in the dashboard would not follow these changes (the memory
    stream does: it scores through sim.core.retrieval too)."""
    recency_scores, minmax = retrieval.recency_scores, retrieval.minmax
    monkeypatch.setattr(retrieval, "RECENCY_DECAY", 0.9)
    monkeypatch.setattr(retrieval, "recency_scores", lambda last, now, decay=0.9: recency_scores(last, now, decay) ** 2)
    monkeypatch.setattr(retrieval, "minmax", lambda values, mask=None: np.sqrt(minmax(values, mask)))
    check_scores_match(tmp_path)


def test_a_vector_put_through_the_cache_is_found_by_the_dashboard(tmp_path, monkeypatch):
    # Another key formula in the cache: a dashboard with its own copy of the formula would find nothing.
    monkeypatch.setattr(cache_module, "_embedding_key", lambda model, text: f"v2|{model}|{text}")
    vectors = np.arange(len(TEXTS) * 4, dtype=np.float32).reshape(len(TEXTS), 4) + 1
    log = memory_log(tmp_path, vectors)
    found = minds.cached_vectors(log, [TEXTS[2], TEXTS[4], "never embedded"])
    assert set(found) == {TEXTS[2], TEXTS[4]}
    np.testing.assert_allclose(found[TEXTS[2]], vectors[2] / np.linalg.norm(vectors[2]), rtol=1e-6)


def test_importing_the_app_draws_nothing_and_loads_no_cognition(tmp_path):
    """app.py is the script Streamlit runs (``main`` then draws the page); imported, it only defines the shell."""
    probe = ("import sys, agentville.dashboard.app as app; print(list(app.TABS)); "
             "print([name for name in sys.modules if name.startswith('agentville.agents')])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ScriptRunContext" not in done.stderr and "streamlit run" not in done.stderr  # no st call ran
    tabs, cognition = done.stdout.splitlines()
    assert tabs.startswith("['Town map', 'Agents'") and cognition == "[]"


def test_the_dashboard_reads_the_store_only_through_its_apis():
    for path in (ROOT / "dashboard").rglob("*.py"):
        source = path.read_text()
        for sql in ("SELECT ", "INSERT ", "execute(", "sqlite_master", "embedding_cache", "llm_cache", "hashlib"):
            assert sql not in source, f"{path.name} uses {sql.strip()!r}: read through EventStore / LLMCache"


def test_the_generation_view_shows_how_early_requests_were_asked(village_db):
    log = stores.load_run(village_db)
    per_call = calls.generation_calls(log, log.reached)
    ahead = per_call[per_call["lead_s"] > 0]
    assert (per_call["lead_s"] >= 0).all() and len(ahead) > len(per_call) / 4
    assert {"importance", "utterance"} <= set(ahead["purpose"])  # consolidation and speech overlap with asking


# -- the workers' view: requests in flight over wall time, clusters ahead of the slowest ------------------------
def test_requests_in_flight_counts_overlaps_as_steps():
    per_call = pd.DataFrame({"submitted_s": [0.0, 2.0, 4.0, 6.0, float("nan")],
                          "latency_s": [10.0, 3.0, 8.0, 0.0, 1.0]})  # a cache hit at 6, a row of an older run
    busy = calls.requests_in_flight(per_call)
    assert list(busy["wall_s"]) == [0.0, 2.0, 4.0, 5.0, 10.0, 12.0]  # the cache hit changes nothing: no step
    assert list(busy["in_flight"]) == [1, 2, 3, 2, 1, 0] and busy["in_flight"].max() == 3
    # one request ending as the next starts is no overlap
    handover = calls.requests_in_flight(pd.DataFrame({"submitted_s": [0.0, 1.0], "latency_s": [1.0, 1.0]}))
    assert list(handover["wall_s"]) == [0.0, 2.0] and list(handover["in_flight"]) == [1, 0]
    assert calls.requests_in_flight(per_call.iloc[4:]).empty


def llm_call_log(made: list[tuple[float, float, dict | None]]) -> runlog.RunLog:
    """A run log of model calls: (logged at, asked at, wall) each, simulated seconds from 07:00."""
    rows = [(i + 1, logged, events.LLM_CALL, "Ann", {"purpose": "utterance", "asked": asked, "due": logged}, wall)
            for i, (logged, asked, wall) in enumerate(made)]
    frame = pd.DataFrame(rows, columns=["seq", "sim_time", "kind", "agent", "data", "wall"])
    return runlog.RunLog({"run_id": "r", "sim_start": "2023-02-13T07:00:00", "status": events.FINISHED}, frame, None)


def test_how_far_ahead_of_the_slowest_cluster_per_hour_asked():
    log = llm_call_log([
        (600.0, 600.0, {"ahead_s": 120.0, "submitted_s": 0.5, "latency_s": 0.1}),  # 07:10
        (3700.0, 3000.0, {"ahead_s": 600.0}),  # asked at 07:50, answered in the next hour: counts for 07:00
        (4000.0, 4000.0, {"ahead_s": 0.0}),
        (4300.0, 4200.0, {"ahead_s": 1800.0}),
        (4400.0, 4400.0, {"latency_s": 0.2}),  # logged before leads were measured: left out
        (4500.0, 4500.0, None),
    ])
    ahead = calls.ahead_by_hour(calls.generation_calls(log, 5000.0))
    assert [f"{h:%H:%M}" for h in ahead["hour"]] == ["07:00", "08:00"]
    assert list(ahead["mean_min"]) == [6.0, 15.0] and list(ahead["max_min"]) == [10.0, 30.0]
    assert list(ahead["calls"]) == [2, 2]
    assert calls.ahead_by_hour(calls.generation_calls(llm_call_log([(60.0, 0.0, {"latency_s": 0.1})]), 60.0)).empty


def test_the_generation_tab_shows_requests_in_flight_and_leads(monkeypatch, village_db):
    test = app(monkeypatch, village_db)
    log = stores.load_run(village_db)
    per_call = calls.generation_calls(log, log.reached)
    assert per_call["submitted_s"].notna().all() and (per_call["ahead_s"] == 0).all()  # the engine runs in order
    busy = calls.requests_in_flight(per_call)
    captions = [c.value for c in test.caption]
    assert f"Requests in flight over wall time (at most {busy['in_flight'].max()})" in "\n".join(captions)
    assert any(c.startswith("How far ahead of the slowest cluster") for c in captions)
    assert not any("predates" in c for c in captions)


def test_a_run_logged_before_these_measurements_still_renders(monkeypatch, village_db, tmp_path):
    old = tmp_path / "old.db"
    with sqlite3.connect(village_db) as source, sqlite3.connect(old) as copy:
        source.backup(copy)
        copy.execute("UPDATE events SET wall = json_remove(wall, '$.submitted_s', '$.ahead_s') WHERE kind = ?",
                     (events.LLM_CALL,))
        copy.execute("UPDATE events SET wall = NULL WHERE kind = ? AND seq % 2 = 0", (events.LLM_CALL,))
    per_call = calls.generation_calls(stores.load_run(old), float("inf"))
    assert len(per_call) and per_call["submitted_s"].isna().all() and per_call["ahead_s"].isna().all()
    test = app(monkeypatch, old)
    assert sum("predates these measurements" in c.value for c in test.caption) == 2
    assert any("cache_hit_%" in d.value.columns for d in test.dataframe)  # the rest of the tab is there


# -- the diffusion view: who knew a fact by t, and from whom ------------------------------------------------------
def party_store(folder: Path) -> Path:
    """The hand-made log of tests/test_provenance.py (Isabella -> Maria -> Klaus, Isabella -> Ayesha) in a store."""
    from tests.test_provenance import START, party_log

    db = folder / "party.db"
    with EventStore(db) as store:
        run_id = store.start_run(scenario="Party town", seed=1, sim_start=START,
                                 sim_until=START + dt.timedelta(hours=12))
        writer = store.writer(run_id)
        for seq, (t, kind, agent, payload) in enumerate(party_log().rows, 1):
            writer.append(seq, t, kind, agent, payload)
        writer.flush()
        store.end_run(run_id, events.FINISHED, sim_reached=12 * 3600.0)
    return db


def diffusion_shown(test: AppTest, keywords: str) -> tuple[str, pd.DataFrame | None]:
    """Type ``keywords`` in the Diffusion tab: the count of knowers shown, and its table (None without one)."""
    test.text_input(key="keywords").input(keywords).run()
    assert not test.exception, [e.value for e in test.exception]
    known = next(m.value for m in test.metric if m.label == "Residents who know it")
    table = next((d.value for d in test.dataframe if "how" in d.value.columns), None)
    return known, table


def tree(test: AppTest) -> str:
    """The Diffusion tab's text tree."""
    return "\n".join(c.value for c in test.code)


def test_the_diffusion_view_shows_who_told_whom(monkeypatch, tmp_path):
    test = app(monkeypatch, party_store(tmp_path))
    assert any(i.value.startswith("Type the keywords of a fact") for i in test.info)  # nothing typed yet
    known, table = diffusion_shown(test, "Valentine, party")
    assert known == "4 of 4 (100%)"
    assert list(table["agent"]) == ["Isabella Rodriguez", "Maria Lopez", "Ayesha Khan", "Klaus Mueller"]
    assert list(table["how"]) == ["at start", "conversation", "conversation", "conversation"]
    assert list(table["source"].fillna("")) == ["", "Isabella Rodriguez", "Isabella Rodriguez", "Maria Lopez"]
    assert list(table["time"]) == ["Mon 08:00", "Mon 10:42", "Mon 12:10", "Mon 14:05"]
    assert "│   └── Klaus Mueller  Feb 13 14:05 at Oak Hill College" in tree(test)
    test.slider(key="minute").set_value(4 * 60.0).run()  # 12:00: Ayesha and Klaus have not heard it yet
    known, table = diffusion_shown(test, "Valentine, party")
    assert known == "2 of 4 (50%)" and list(table["agent"]) == ["Isabella Rodriguez", "Maria Lopez"]
    known, table = diffusion_shown(test, "gentrification")
    assert known == "0 of 4 (0%)" and table is None


def test_the_diffusion_view_reads_the_scenarios_personas(monkeypatch, village_db):
    """Isabella's persona plans the party; whoever else knows it by the end is in the tree too."""
    test = app(monkeypatch, village_db)
    known, table = diffusion_shown(test, "party")
    assert known == f"{len(table)} of 3 ({len(table) / 3:.0%})"
    assert (table["agent"].iloc[0], table["how"].iloc[0]) == ("Isabella Rodriguez", "at start")
    assert tree(test).startswith("Isabella Rodriguez (at start)")
    known, table = diffusion_shown(test, "neighbours")  # in Isabella's "currently", in none of her first memories
    assert known == f"{len(table)} of 3 ({len(table) / 3:.0%})"
    isabella = table.iloc[0]
    assert (isabella["agent"], isabella["how"]) == ("Isabella Rodriguez", "at start") and pd.isna(isabella["memory"])
    assert "invite as many customers and neighbours" in isabella["text"]


def test_a_conversation_without_lines_yet_is_in_the_feed(tmp_path):
    """A talk that has begun but logged no line (the party store's) once broke the feed: an empty mask picked columns."""
    log = stores.load_run(party_store(tmp_path))
    talks = interactions.conversations(log, log.reached)
    assert len(talks) == 4 and all(talk["lines"] == [] for talk in talks)
    assert talks[-1]["people"] == ["Isabella Rodriguez", "Maria Lopez"] and talks[-1]["summary"] == "they talked"


def test_the_diffusion_view_shows_the_runs_text_as_text(monkeypatch, tmp_path):
    url = "http://127.0.0.1:9"
    test = app(monkeypatch, hostile_store(tmp_path, url))
    known, table = diffusion_shown(test, "bold")  # in Ann's first memory, and in every hostile line
    assert known.startswith(f"{len(table)} of 2") and table["agent"].iloc[0] == ANN
    assert tree(test).startswith(f"{ANN} (at start)")
    check_shown_as_text(markdown_sources(test), [])


def test_generation_numbers_are_formatted(monkeypatch, village_db):
    test = app(monkeypatch, village_db)
    stats = next(d for d in test.dataframe if "p50_ms" in d.value.columns)
    formats = {name: c["type_config"]["format"] for name, c in json.loads(stats.proto.columns).items()}
    assert formats["p50_ms"] == "%.0f" and formats["tok_per_s"] == "%.1f" and formats["cache_hit_%"] == "%.1f"
    assert "calls" not in formats  # counts are whole numbers already


def test_the_generation_table_counts_parse_failures_and_leaves_out_what_was_not_measured(monkeypatch, tmp_path):
    """The tab once read llm_call rows alone (parse failures 0, only the backend's fallbacks) and showed columns of
    "None" where the backend measures nothing (prefix reuse)."""
    from .test_commands_ux import scripted_run  # garbled decompositions and schedules, importance never answered

    db, _ = scripted_run(tmp_path)
    test = app(monkeypatch, db)
    stats = next(d for d in test.dataframe if "p50_ms" in d.value.columns).value
    with EventStore(db, read_only=True) as store:
        logged = store.events(kinds=[events.PARSE_FAILED, events.FALLBACK, events.LLM_CALL])
    backend_fallbacks = sum(bool(d.get("fallback")) for d in logged[logged["kind"] == events.LLM_CALL]["data"])
    assert stats.loc["TOTAL", "parse_failed"] == (logged["kind"] == events.PARSE_FAILED).sum() > 0
    assert stats.loc["TOTAL", "fallbacks"] == (logged["kind"] == events.FALLBACK).sum() + backend_fallbacks > 0
    assert not stats.isna().all().any() and "prefix_hit_%" not in stats.columns
    assert any("Not measured in this run: prefix_hit_%" in c.value for c in test.caption)


def test_a_damaged_event_is_one_error_line_in_the_page_not_a_traceback(monkeypatch, village_db, tmp_path):
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(village_db.read_bytes())
    with sqlite3.connect(damaged) as db:
        (seq,) = db.execute("SELECT seq FROM events WHERE kind='action' ORDER BY seq LIMIT 1").fetchone()
        db.execute("UPDATE events SET data='[1, 2]' WHERE seq=?", (seq,))
    test = app(monkeypatch, damaged)  # asserts no exception reached the page
    said = [e.value.replace("\\", "") for e in test.error]  # shown as Markdown: its punctuation escaped
    assert said and all(f"event {seq} (action): its data is a JSON list, not an object" in line for line in said)
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "events", str(damaged), "--kind", "action"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
