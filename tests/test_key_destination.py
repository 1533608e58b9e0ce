"""A scenario file never decides where a secret goes (issue 26, item 1).

A shared scenario used to pick the environment variable sent as the bearer
token (``generation.api_key_env: AWS_SECRET_ACCESS_KEY``) and the server it went
to (``generation.base_urls``). Now the variable comes from the command line,
the key goes only to servers the user named, and a run says where its requests
go before the first.
"""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from agentville.sim.cli import main
from agentville.sim.generation.endpoints import BY_SCENARIO, BY_USER, TRUSTED_ENV, server, servers
from agentville.sim.generation.replicas import BackendUnavailable, reachable_replicas
from tests.conftest import ROOT, WORLDS
from tests.servers import FakeOpenAIServer, free_port

KEY = "sk-test-destination-0123456789"
OTHER_KEY = "sk-test-other-variable-987654"


def scenario_naming(tmp_path, url: str, extra: str = "") -> str:
    """The three-resident town with a server (and ``extra`` generation lines) written into it."""
    text = (WORLDS / "the_ville_3.yaml").read_text()
    path = tmp_path / "shared.yaml"
    path.write_text(text.replace("\ngeneration:\n", f"\ngeneration:\n  base_urls: ['{url}']\n  retries: 0\n{extra}",
                                 1))
    return str(path)


def run(scenario: str, tmp_path, *flags: str) -> int:
    return main(["run", scenario, "--llm", "openai", "--model", "tiny", "--until", "+10m", "--no-progress",
                 "--db", str(tmp_path / "run.db"), *flags])


def bearers(fake: FakeOpenAIServer) -> set[str | None]:
    return {headers.get("authorization") for headers in fake.headers}


@pytest.mark.parametrize("value", ["AWS_SECRET_ACCESS_KEY", "OPENAI_API_KEY", "HOME", "''", "null", "[A, B]"])
def test_a_scenario_may_not_choose_the_key_variable(tmp_path, capsys, value):
    scenario = scenario_naming(tmp_path, "http://127.0.0.1:9/v1", f"  api_key_env: {value}\n")
    assert main(["validate", scenario]) == 2
    err = capsys.readouterr().err
    assert f"{scenario}:" in err and "generation.api_key_env" in err and "may not choose" in err
    assert "Traceback" not in err


def test_the_key_does_not_go_to_a_server_only_the_scenario_names(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv(TRUSTED_ENV, raising=False)
    with FakeOpenAIServer() as fake:
        assert run(scenario_naming(tmp_path, fake.url), tmp_path) == 0
    assert fake.headers and bearers(fake) == {None}
    err = caplog.text
    assert f"requests go to {fake.url}/v1 (named by the scenario; no key sent" in err


@pytest.mark.parametrize("how", ["--base-url", "trusted", "trusted-bare", "trusted-slash"])
def test_the_key_goes_to_the_servers_the_user_names(tmp_path, caplog, monkeypatch, how):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeOpenAIServer() as fake:
        flags: list[str] = []
        if how == "--base-url":
            flags = ["--base-url", fake.url]
        else:
            listed = {"trusted": f"{fake.url}/v1", "trusted-bare": fake.url.removeprefix("http://"),
                      "trusted-slash": f"{fake.url}/v1/"}[how]
            monkeypatch.setenv(TRUSTED_ENV, f"http://127.0.0.1:9/v1, {listed}")
        assert run(scenario_naming(tmp_path, fake.url), tmp_path, *flags) == 0
    assert bearers(fake) == {f"Bearer {KEY}"}
    err = caplog.text
    assert "sends $OPENAI_API_KEY" in err and KEY not in err


def test_a_trusted_list_naming_another_server_sends_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeOpenAIServer() as fake:
        monkeypatch.setenv(TRUSTED_ENV, f"http://127.0.0.1:{free_port()}/v1 http://localhost:{fake.url.rsplit(':', 1)[1]}/v1")
        assert run(scenario_naming(tmp_path, fake.url), tmp_path) == 0
    assert bearers(fake) == {None}


def test_the_key_variable_is_the_users_choice(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AGENTVILLE_TEST_OTHER_KEY", OTHER_KEY)
    with FakeOpenAIServer() as fake:
        assert run(scenario_naming(tmp_path, "http://127.0.0.1:9/v1"), tmp_path, "--base-url", fake.url,
                   "--api-key-env", "AGENTVILLE_TEST_OTHER_KEY") == 0
    assert bearers(fake) == {f"Bearer {OTHER_KEY}"}


def test_where_requests_go_is_said_before_the_first(tmp_path, monkeypatch):
    """On the terminal, even when the server is down: the line comes before the health check finds it so."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    dead = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", scenario_naming(tmp_path, dead),
                           "--llm", "openai", "--model", "tiny", "--db", str(tmp_path / "run.db")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and "Traceback" not in done.stderr, done.stderr
    assert lines[0] == f"agentville: requests go to {dead}/v1 (named by the scenario; no key sent: name it with " \
                       f"--base-url or in ${TRUSTED_ENV} to send $OPENAI_API_KEY)"
    assert "cannot reach" in lines[1]


@pytest.mark.parametrize("named_by, key, hint", [(BY_SCENARIO, None, "the scenario, not you, named this server"),
                                                 (BY_USER, KEY, "check the API key"),
                                                 (BY_USER, None, "check the API key")])
def test_a_refused_key_check_says_why(named_by, key, hint):
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(401, text="no")))
    replica = server("http://127.0.0.1:8000", key, named_by)
    with pytest.raises(BackendUnavailable, match="HTTP 401") as refused:
        reachable_replicas(client, [replica], "tiny", 1.0)
    assert hint in str(refused.value) and KEY not in str(refused.value)


def test_servers_keep_the_order_and_trust_only_the_listed():
    env = {"K": KEY, TRUSTED_ENV: "127.0.0.1:8001"}
    replicas = servers(None, ["http://127.0.0.1:8000", "http://127.0.0.1:8001/v1/"], key_env="K", environ=env)
    assert [(r.url, r.key) for r in replicas] == [("http://127.0.0.1:8000/v1", None), ("http://127.0.0.1:8001/v1", KEY)]
    mine = servers(["http://127.0.0.1:8002"], ["http://127.0.0.1:8000"], key_env="K", environ=env)
    assert [(r.url, r.key) for r in mine] == [("http://127.0.0.1:8002/v1", KEY)]
    assert servers(["h:1"], [], key_env="UNSET", environ={})[0].key is None


@pytest.mark.parametrize("url", ["ftp://host/v1", "http://", "http://host:99999/v1", "file:///etc/passwd"])
def test_a_url_that_names_no_http_server_is_one_line(url):
    from agentville.sim.core.errors import UserError

    with pytest.raises(UserError, match="server URL"):
        server(url)


def test_validate_says_where_a_scenarios_requests_would_go(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(TRUSTED_ENV, raising=False)
    scenario = scenario_naming(tmp_path, "http://gpu.example:8000")
    assert main(["validate", scenario]) == 0
    out = capsys.readouterr().out
    assert f"{scenario}: generation.base_urls: requests go to http://gpu.example:8000/v1 (named by the scenario; " \
           "no key sent" in out
    assert main(["validate", scenario_naming(tmp_path, "ftp://gpu.example/v1")]) == 2
    assert "generation.base_urls: server URL 'ftp://gpu.example/v1': not an http(s) URL" in capsys.readouterr().err
