"""The API key never reaches the event store, by any route (issue 26, item 3).

Three routes used to: a server echoing the key in a 200 answer (stored as the
answer, its raw text, the cache), the key JSON-escaped in an error body
(``sk\\u002d…`` passed the redaction), and credentials in ``--base-url
http://user:key@host/v1`` (stored in every call's ``wall``). The store now
redacts at its door, whatever the table and however the key is spelled, and a
URL is logged without its credentials or query.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest

from agentville.sim.cli import main
from agentville.sim.core import secrets
from agentville.sim.generation import LLMCache, TextRequest
from agentville.sim.generation.requests import Completion
from agentville.sim.store.eventstore import EventStore
from tests.conftest import WORLDS
from tests.servers import FakeOpenAIServer

KEY = "sk-test-store-door-4242424242"
USER = "alice-the-operator"


def spellings(secret: str) -> list[str]:
    """The key as it is, JSON-escaped (as a server or a stored JSON may write it), percent-encoded, and mixed."""
    escaped = "".join(f"\\u{ord(c):04x}" if not c.isalnum() else c for c in secret)
    upper_hex = "".join(f"\\u{ord(c):04X}" if not c.isalnum() else c for c in secret)
    return [secret, escaped, escaped.replace("\\u", "\\\\u"), upper_hex,
            "".join(f"%{ord(c):02X}" if not c.isalnum() else c for c in secret),
            "".join(f"%{ord(c):02x}" if not c.isalnum() else c for c in secret),
            secret.replace("-", "\\u002d", 1), secret.replace("-", "%2d", 1)]


def stored_bytes(folder: Path) -> bytes:
    """Every byte of every file the run left (the store, its -wal and -shm), as they are on disk."""
    return b"".join(path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file())


def assert_nowhere(blob: bytes, *secret_values: str) -> None:
    for value in secret_values:
        for spelled in spellings(value):
            assert spelled.encode() not in blob, spelled
        assert base64.b64encode(value.encode()) not in blob


def scenario(tmp_path: Path) -> str:
    text = (WORLDS / "the_ville_3.yaml").read_text()
    path = tmp_path / "s.yaml"
    path.write_text(text.replace("\ngeneration:\n", "\ngeneration:\n  retries: 1\n", 1))
    return str(path)


def run(tmp_path: Path, base_url: str, until: str = "+10m") -> int:
    store = tmp_path / "store"
    store.mkdir(exist_ok=True)
    return main(["run", scenario(tmp_path), "--llm", "openai", "--model", "tiny", "--base-url", base_url,
                 "--until", until, "--no-progress", "--db", str(store / "run.db")])


# ----- the door: every table, every spelling -----

@pytest.mark.parametrize("spelled", spellings(KEY))
def test_the_store_redacts_every_spelling_in_every_table(tmp_path, spelled):
    secrets.remember(KEY)
    said = f"the server said: {spelled} (end)"
    db = tmp_path / "door.db"
    with EventStore(db) as store:
        run_id = store.start_run(scenario="door", seed=1, sim_start=dt.datetime(2023, 2, 13, 8),
                                 settings={"note": said})
        writer = store.writer(run_id)
        writer.append(1, 0.0, "llm_call", "Ann", {"text": said, "nested": [{"raw": said}]}, wall={"fault": said})
        writer.flush()
        cache = LLMCache(store.db, "read-write")
        cache.put("model", TextRequest(said), Completion(said, 1, 1, raw=said))
        store.end_run(run_id, "failed", sim_reached=0.0, error=said)
    assert_nowhere(stored_bytes(tmp_path), KEY)
    with EventStore(db, read_only=True) as store:
        event = store.events(run_id).iloc[0]
        assert event["data"]["text"] == "the server said: [redacted] (end)"
        assert store.run(run_id)["error"] == "the server said: [redacted] (end)"


def test_a_short_or_unknown_text_is_stored_as_it_is(tmp_path):
    secrets.remember("short")  # too short to redact from data: it would blank out words
    with EventStore(tmp_path / "plain.db") as store:
        run_id = store.start_run(scenario="plain", seed=1, sim_start=dt.datetime(2023, 2, 13, 8))
        writer = store.writer(run_id)
        writer.append(1, 0.0, "action", "Ann", {"text": "a short walk, sk-not-our-key-at-all"})
        writer.flush()
        assert store.events(run_id).iloc[0]["data"]["text"] == "a short walk, sk-not-our-key-at-all"


# ----- the routes, end to end -----

def test_a_key_echoed_in_answers_reaches_neither_agents_nor_store(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    echoes = [lambda body: f"Sure. Your key is {KEY}.", lambda body: f"key: {json.dumps(KEY)[1:-1]}",
              lambda body: "it is " + KEY.replace("-", "\\u002d")]
    with FakeOpenAIServer(text=lambda body: echoes[len(body["prompt"]) % 3](body)) as fake:
        assert run(tmp_path, fake.url) == 0
    assert {headers.get("authorization") for headers in fake.headers} == {f"Bearer {KEY}"}  # it was sent
    blob = stored_bytes(tmp_path / "store")
    assert_nowhere(blob, KEY)
    assert b"[redacted]" in blob  # the answers were stored, the key in them was not


@pytest.mark.parametrize("status", [400, 422, 500, 429])
def test_a_key_escaped_in_an_error_body_is_redacted(tmp_path, monkeypatch, capsys, status):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    body = json.dumps({"error": {"message": f"bad key Bearer {KEY}", "key": KEY}}).replace("-", "\\u002d")
    with FakeOpenAIServer(faults=[("raw", status, body.encode())] * 4) as fake:
        run(tmp_path, fake.url)
    captured = capsys.readouterr()
    assert_nowhere(stored_bytes(tmp_path / "store") + (captured.out + captured.err).encode(), KEY)


@pytest.mark.parametrize("form", ["userinfo", "user-only", "query", "both"])
def test_credentials_in_a_url_are_sent_but_never_stored(tmp_path, monkeypatch, capsys, caplog, form):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAIServer() as fake:
        host = fake.url.removeprefix("http://")
        url = {"userinfo": f"http://{USER}:{KEY}@{host}/v1", "user-only": f"http://{KEY}@{host}",
               "query": f"http://{host}/v1?api-key={KEY}", "both": f"http://{USER}:{KEY}@{host}/v1?api-key={KEY}"}[form]
        assert run(tmp_path, url) == 0
    if form in ("userinfo", "both"):
        assert {h.get("authorization") for h in fake.headers} == \
            {"Basic " + base64.b64encode(f"{USER}:{KEY}".encode()).decode()}
    if form in ("query", "both"):
        assert all(path.endswith(f"?api-key={KEY}") for path in fake.paths)
    captured = capsys.readouterr()
    told = (captured.out + captured.err + caplog.text).encode()
    assert_nowhere(stored_bytes(tmp_path / "store") + told, KEY)
    assert USER.encode() not in stored_bytes(tmp_path / "store") + told
    with EventStore(tmp_path / "store" / "run.db", read_only=True) as store:
        replicas = {e.wall["replica"] for e in store.iter_events(store.run()["run_id"]) if e.wall and
                    "replica" in e.wall}
    assert replicas == {f"{fake.url}/v1"}
