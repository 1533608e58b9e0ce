"""Commands that do what they print: hints that run as shown, a lean demo install, one progress display,
a pace to watch a fake run at, and every parse failure and fallback counted (issue 16)."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from agentville.sim.analysis.stats import ANSWER_KINDS, answer_troubles, llm_stats
from agentville.sim.cli import main
from agentville.sim.cli.hints import agentville_command
from agentville.sim.cli.running import format_summary
from agentville.sim.core import events
from agentville.sim.runtime.pacing import Pace
from agentville.sim.runtime.runner import assemble
from agentville.sim.scenario import load_scenario
from agentville.sim.store.eventstore import EventStore

from .conftest import ROOT, WORLDS, wait_for_events
from .scripted import ScriptedBackend

SCRIPT = Path(sys.executable).parent / "agentville"  # the console script of the venv the tests run in
VILLE = str(WORLDS / "the_ville_3.yaml")


def fresh_shell_env() -> dict[str, str]:
    """A shell that has not activated the venv: no VIRTUAL_ENV, no venv bin folder on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = "/usr/bin:/bin"
    return env


def hints(summary: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^(Watch it|Inspect it|LLM usage):\s+(.*)$", summary, re.M)}


@pytest.mark.skipif(not SCRIPT.is_file(), reason="needs the installed console script")
def test_the_summary_hints_run_as_printed_in_a_shell_without_the_venv(tmp_path):
    env = fresh_shell_env()
    assert subprocess.run(["bash", "-c", "command -v agentville"], env=env).returncode != 0  # bare name: not found
    run = subprocess.run([str(SCRIPT), "run", VILLE, "--llm", "fake", "--until", "+1h", "--db", "runs/h.db",
                          "--no-progress"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    shown = hints(run.stdout)
    assert set(shown) == {"Watch it", "Inspect it", "LLM usage"}
    shown["Watch it"] += " --help"  # the dashboard would serve forever: its command must resolve and parse
    for name, line in shown.items():
        done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, (name, line, done.stderr)
    assert "TOTAL" in subprocess.run(["bash", "-c", hints(run.stdout)["LLM usage"]], cwd=tmp_path, env=env,
                                     capture_output=True, text=True).stdout


def test_the_hints_say_plain_agentville_when_the_shell_finds_this_script(tmp_path, monkeypatch):
    script = tmp_path / "venv" / "bin" / "agentville"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script), "run"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert agentville_command() == "venv/bin/agentville"  # relative: shorter than the absolute path
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")  # the venv is activated
    assert agentville_command() == "agentville"
    monkeypatch.chdir(script.parent)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert agentville_command() == "./agentville"  # never a bare name the shell would look up on PATH
    monkeypatch.setattr(sys, "argv", [str(ROOT / "sim" / "cli" / "__main__.py")])
    assert agentville_command().endswith(" -m agentville.sim.cli")


def test_the_demo_installs_no_test_extras_and_the_tests_do():
    def planned(target: str) -> str:
        return subprocess.run(["make", "-n", target, "VENV=/nonexistent/venv"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout

    demo, test = planned("demo"), planned("test")
    assert "-e ." in demo and "[test]" not in demo
    assert "-e '.[test]'" in test
    for plan in (demo, test):  # the CPU torch first, before anything can pull another
        assert plan.index("'torch==") < plan.index("-e .")


def cli_run(db: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", VILLE, "--llm", "fake", "--db", str(db),
                           "--no-progress", *flags], capture_output=True, text=True, cwd=ROOT)


def logged(db: Path) -> list[tuple]:
    frame = EventStore(db, read_only=True).events()
    return list(zip(frame.seq, frame.sim_time, frame.kind, frame.agent.fillna(""), frame.data.map(repr)))


@pytest.mark.parametrize("scheduling", ["auto", "out-of-order"])
def test_a_paced_run_keeps_to_its_pace_commits_as_it_goes_and_logs_the_same(scheduling, tmp_path):
    paced = subprocess.Popen([sys.executable, "-m", "agentville.sim.cli", "run", VILLE, "--llm", "fake", "--db",
                              str(tmp_path / "paced.db"), "--no-progress", "--until", "+6m", "--pace", "2",
                              "--scheduling", scheduling],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert wait_for_events(tmp_path / "paced.db", 1, timeout_s=10) > 0
        assert paced.poll() is None  # the dashboard sees events while the run is still going
        out, err = paced.communicate(timeout=60)
    finally:
        if paced.poll() is None:
            paced.kill()
    assert paced.returncode == 0, err
    wall = float(re.search(r"in ([\d.]+) s of wall time", out).group(1))
    assert wall >= 2.5  # 6 simulated minutes at 2 a second
    fast = cli_run(tmp_path / "fast.db", "--until", "+6m")
    assert fast.returncode == 0, fast.stderr
    assert float(re.search(r"in ([\d.]+) s of wall time", fast.stdout).group(1)) < 2.5
    assert logged(tmp_path / "paced.db") == logged(tmp_path / "fast.db")


@pytest.mark.parametrize("pace", ["0", "-3", "fast"])
def test_a_pace_must_be_a_positive_number(pace, tmp_path):
    result = cli_run(tmp_path / "x.db", "--pace", pace)
    assert result.returncode == 2 and "--pace" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_pace_waits_for_the_wall_clock_and_commits_every_second():
    now, commits = [0.0], []
    pace = Pace(2, start=0.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    for minute in range(1, 7):
        pace.keep(60.0 * minute, lambda: commits.append(now[0]))
    assert now[0] == pytest.approx(3.0)  # 6 simulated minutes at 2 a second
    assert len(commits) >= 2 and all(b - a >= 1.0 for a, b in zip(commits, commits[1:]))
    with pytest.raises(ValueError):
        Pace(0, start=0.0)


class GarblingBackend(ScriptedBackend):
    """Unparseable decompositions and schedules; no answer at all to importance ratings (the backend's fallback)."""

    def __init__(self):
        super().__init__({"decompose": "???", "schedule": "nothing"})

    def submit(self, request):
        if request.purpose != "importance":
            return super().submit(request)
        future = concurrent.futures.Future()
        future.set_exception(RuntimeError("the server is down"))
        return future


def scripted_run(tmp_path: Path) -> tuple[Path, object]:
    scenario = load_scenario(VILLE)
    backend = GarblingBackend()
    db = tmp_path / "garbled.db"
    with EventStore(db) as store:
        summary = assemble(scenario, store=store, backend=backend, cognition={"importance": "model"}).run(
            scenario.start + dt.timedelta(hours=2))  # the model rates: its ratings' fallbacks are counted
    return db, summary


def of_purpose(frame: pd.DataFrame, kind: str) -> pd.Series:
    rows = frame[frame.kind == kind]
    if kind == events.LLM_CALL:  # the backend's fallbacks
        rows = rows[rows.data.map(lambda d: d["fallback"])]
    return rows.data.map(lambda d: d["purpose"]).value_counts()


def test_stats_and_the_summary_count_every_parse_failure_and_fallback_per_purpose(tmp_path, capsys):
    db, summary = scripted_run(tmp_path)
    frame = EventStore(db, read_only=True).events()
    failed = of_purpose(frame, events.PARSE_FAILED)
    fallbacks = of_purpose(frame, events.FALLBACK).add(of_purpose(frame, events.LLM_CALL), fill_value=0).astype(int)
    fallbacks = fallbacks.sort_values(ascending=False, kind="stable")
    assert failed["decompose"] > 0 and failed["schedule"] > 0 and fallbacks["decompose"] > 0
    assert fallbacks["importance"] > 0 and "importance" not in failed  # a backend's fallback parses
    table = llm_stats(frame[frame.kind.isin(ANSWER_KINDS)])
    for purpose in ("decompose", "schedule", "importance"):
        assert table.loc[purpose, "parse_failed"] == failed.get(purpose, 0)
        assert table.loc[purpose, "fallbacks"] == fallbacks[purpose]
    assert table.loc["TOTAL", "parse_failed"] == failed.sum()
    assert main(["stats", str(db)]) == 0
    header = capsys.readouterr().out.splitlines()[1].split()
    assert header[:5] == ["calls", "cache_hit_%", "prefix_hit_%", "parse_failed", "fallbacks"]
    line = next(x for x in format_summary(summary).splitlines() if x.strip().startswith("answers"))
    assert f"{failed.sum()} parse failures (decompose {failed['decompose']}, schedule {failed['schedule']})" in line
    assert f"{fallbacks.sum()} fallbacks (" in line
    assert all(f"{purpose} {n}" in line.split("fallbacks (")[1] for purpose, n in fallbacks.items())
    with EventStore(db, read_only=True) as store:
        assert answer_troubles(store, summary.run_id) == (dict(failed), dict(fallbacks))


def test_fallbacks_add_the_backends_and_the_parsers():
    def row(kind: str, purpose: str, **data) -> dict:
        base = {"purpose": purpose, "fallback": False, "prompt_tokens": 1, "output_tokens": 1} if kind == "llm_call" \
            else {"purpose": purpose}
        return {"kind": kind, "wall": {}, "data": {**base, **data}}

    table = llm_stats(pd.DataFrame([
        row("llm_call", "decompose", fallback=True), row("llm_call", "decompose"), row("llm_call", "decompose"),
        row("parse_failed", "decompose"), row("parse_failed", "decompose"), row("fallback", "decompose"),
        row("llm_call", "importance"),
    ]))
    assert table.loc["decompose", ["calls", "parse_failed", "fallbacks"]].tolist() == [3, 2, 2]
    assert table.loc["importance", ["parse_failed", "fallbacks"]].tolist() == [0, 0]
    assert table.loc["TOTAL", ["parse_failed", "fallbacks"]].tolist() == [2, 2]
    calls_only = llm_stats(pd.DataFrame([row("llm_call", "decompose", fallback=True)]))  # as before: the backend's
    assert calls_only.loc["TOTAL", ["parse_failed", "fallbacks"]].tolist() == [0, 1]


@pytest.mark.slow
def test_loading_a_model_draws_no_progress_bars_of_its_own(tmp_path):
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", VILLE, "--llm", "transformers",
                             "--model", "random:tiny", "--until", "+5m", "--db", str(tmp_path / "r.db")],
                            capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert result.returncode == 0, result.stderr
    assert "Loading random:tiny ..." in result.stderr
    assert "Loading weights" not in result.stderr and "it/s]" not in result.stderr, result.stderr
    assert time.monotonic() - started < 240
