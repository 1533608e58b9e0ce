"""The answer cache: identical reruns come from it, read-only replays need no model."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import pytest

from agentville.sim.generation import (
    Completion,
    FakeBackend,
    GenerationError,
    HashEmbedder,
    LLMCache,
    ReplayOnlyBackend,
    TextRequest,
    make_backend,
)
from agentville.sim.runtime.runner import assemble
from agentville.sim.scenario.schema import GenerationSpec
from agentville.sim.store.eventstore import EventStore

from .conftest import ROOT, WORLDS
from .models import tiny_model_dir


def comparable(store, run_id):
    return [(e.seq, e.sim_time, e.kind, e.agent, e.data) for e in store.iter_events(run_id)]


def run(scenario, store, *, backend=None, cache_mode="read-write", seed=None, hours=8):
    sim = assemble(scenario, store=store, backend=backend or FakeBackend(), cache_mode=cache_mode, seed=seed)
    return sim.run(scenario.start + dt.timedelta(hours=hours))


def test_second_identical_run_is_served_from_cache(tiny, tmp_path):
    store = EventStore(tmp_path / "c.db")
    first_backend, second_backend = FakeBackend(), FakeBackend()
    first = run(tiny, store, backend=first_backend)
    second = run(tiny, store, backend=second_backend)
    assert first.llm_calls > 0
    # An answer is logged and cached when it is delivered: the few asked ahead and not yet due at the end
    # (the next hour's steps) are neither, so the rerun asks exactly those again, and nothing else.
    ahead = first_backend.calls - first.llm_calls
    assert 0 <= ahead <= 4
    assert second_backend.calls == ahead and second.extra["cache_hits"] == second.llm_calls
    assert comparable(store, first.run_id) == comparable(store, second.run_id)
    walls = [e.wall for e in store.iter_events(second.run_id, kinds=["llm_call"])]
    assert all(w["cache_hit"] for w in walls)


def test_read_only_replay_needs_no_model_and_misses_are_clear_errors(tiny, tmp_path):
    store = EventStore(tmp_path / "r.db")
    original = run(tiny, store)
    replay_backend = make_backend("fake", GenerationSpec(), replay_only=True)
    assert isinstance(replay_backend, ReplayOnlyBackend) and replay_backend.model_id == "fake"
    replay = run(tiny, store, backend=replay_backend, cache_mode="read-only")
    assert comparable(store, original.run_id) == comparable(store, replay.run_id)
    with pytest.raises(GenerationError, match="read-only replay: no cached answer"):
        run(tiny, store, backend=replay_backend, cache_mode="read-only", seed=999)
    assert store.runs()[0]["status"] == "failed"


def test_cache_off_asks_the_model_every_time(tiny, tmp_path):
    store = EventStore(tmp_path / "o.db")
    run(tiny, store)
    backend = FakeBackend()
    summary = run(tiny, store, backend=backend, cache_mode="off")
    assert summary.llm_calls <= backend.calls <= summary.llm_calls + 4  # + those asked ahead, due after the end
    assert store.db.execute("SELECT COUNT(*) FROM llm_cache").fetchone()[0] == summary.llm_calls


def test_embeddings_are_cached_in_the_store(tiny, tmp_path):
    class Counting(HashEmbedder):
        texts = 0

        def embed(self, texts):
            Counting.texts += len(texts)
            return super().embed(texts)

    store = EventStore(tmp_path / "e.db")
    sim = assemble(tiny, store=store, backend=FakeBackend(), embedder=Counting())
    first = sim.llm.embed(["the cafe is open", "Ann likes the park", "the cafe is open"])
    assert first.shape == (3, 256) and np.allclose(np.linalg.norm(first, axis=1), 1)
    second = assemble(tiny, store=store, backend=FakeBackend(), embedder=Counting()).llm.embed(["Ann likes the park"])
    assert Counting.texts == 2  # the duplicate was embedded once; the second call hit the cache
    assert np.allclose(second[0], first[1])


def test_a_put_is_committed_at_once_and_leaves_no_transaction_open(tiny, tmp_path):
    store = EventStore(tmp_path / "p.db")
    run_id = store.start_run(scenario="t", seed=1, sim_start=tiny.start)
    writer = store.writer(run_id, batch=1000, max_delay_s=3600)
    writer.append(1, 0.0, "run_started", None, {})  # an event buffered, not yet flushed
    cache = LLMCache(store.db)
    other = EventStore(tmp_path / "p.db", read_only=True)
    request = TextRequest("Where is the cafe?", seed=5, purpose="ask")
    cache.put("m", request, Completion("on the square", 4, 3))
    assert not store.db.in_transaction
    assert LLMCache.reader(other.db).get("m", request).text == "on the square"  # seen before any event flush
    cache.put_vectors("e", ["the cafe"], np.ones((1, 4), dtype=np.float32))
    assert not store.db.in_transaction
    assert LLMCache.reader(other.db).get_vectors("e", ["the cafe"])["the cafe"].tolist() == [1.0] * 4
    assert other.count_events(run_id) == 0 and writer.pending


def test_no_write_transaction_is_open_while_the_model_is_asked(tiny, tmp_path):
    store = EventStore(tmp_path / "w.db")
    seen = []

    class Watching(FakeBackend):  # the model wait starts at submission: nothing may be left uncommitted then
        def submit(self, request):
            seen.append(store.db.in_transaction)
            return super().submit(request)

    summary = run(tiny, store, backend=Watching(), hours=4)
    # every call logged was asked (a few asked near the end are due after it, so not logged yet)
    assert summary.llm_calls > 0 and len(seen) >= summary.llm_calls
    assert not any(seen)
    assert not store.db.in_transaction


@pytest.mark.slow
def test_cli_replays_a_transformers_run_read_only_and_reports_stats(tmp_path):
    db = str(tmp_path / "t.db")
    common = ["run", str(WORLDS / "the_ville_3.yaml"), "--llm", "transformers", "--model", str(tiny_model_dir()),
              "--until", "+4h", "--db", db, "--no-progress"]
    live = subprocess.run([sys.executable, "-m", "agentville.sim.cli", *common], capture_output=True, text=True, cwd=ROOT)
    assert live.returncode == 0, live.stderr
    replay = subprocess.run([sys.executable, "-m", "agentville.sim.cli", *common, "--llm-cache", "read-only"],
                            capture_output=True, text=True, cwd=ROOT)
    assert replay.returncode == 0, replay.stderr
    assert "Loading" not in replay.stderr  # no model was loaded
    store = EventStore(db)
    newest, oldest = store.runs()[0]["run_id"], store.runs()[1]["run_id"]
    assert comparable(store, newest) == comparable(store, oldest)
    stats = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "stats", db, "--run", newest], capture_output=True,
                           text=True, cwd=ROOT)
    assert stats.returncode == 0, stats.stderr
    assert "day_plan" in stats.stdout and "TOTAL" in stats.stdout and "100.0" in stats.stdout


def test_cli_read_only_without_store_is_a_usage_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", str(WORLDS / "the_ville_3.yaml"), "--llm",
                             "fake", "--llm-cache", "read-only", "--db", str(tmp_path / "none.db")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "does not exist" in result.stderr


@pytest.mark.parametrize("stored", ["{not json", "[1]", '{"prompt_tokens": 3}', "null"])
def test_a_damaged_cached_answer_is_asked_again_or_named_in_a_replay(tiny, tmp_path, stored):
    """Such a row once stopped a rerun with a JSON traceback (or a KeyError) from deep inside the generation service."""
    store = EventStore(tmp_path / "d.db")
    original = run(tiny, store)
    store.db.execute("UPDATE llm_cache SET response=? WHERE rowid=(SELECT MIN(rowid) FROM llm_cache)", (stored,))
    store.db.commit()
    backend = FakeBackend()
    again = run(tiny, store, backend=backend)
    assert 1 <= backend.calls <= 5  # the damaged answer (and those due after the first run's end) asked again
    assert comparable(store, original.run_id) == comparable(store, again.run_id)
    store.db.execute("UPDATE llm_cache SET response=? WHERE rowid=(SELECT MIN(rowid) FROM llm_cache)", (stored,))
    store.db.commit()
    replay_backend = make_backend("fake", GenerationSpec(), replay_only=True)
    with pytest.raises(GenerationError, match="its cached answer is damaged"):
        run(tiny, store, backend=replay_backend, cache_mode="read-only")


def test_a_damaged_cached_vector_is_computed_again(tiny, tmp_path):
    store = EventStore(tmp_path / "v.db")
    sim = assemble(tiny, store=store, backend=FakeBackend(), embedder=HashEmbedder())
    first = sim.llm.embed(["the cafe is open"])
    store.db.execute("UPDATE embedding_cache SET vector=?", (b"\x00\x01\x02",))
    store.db.commit()
    again = assemble(tiny, store=store, backend=FakeBackend(), embedder=HashEmbedder()).llm.embed(["the cafe is open"])
    assert np.array_equal(first, again)
