"""Resume a killed run to the log it would have had; fork a run at a time."""

from __future__ import annotations

import subprocess
import sys

from agentville.sim.store.eventstore import EventStore
from tests.conftest import ROOT, WORLDS, kill_after_events


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agentville.sim.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)


def log_of(db, run_id=None):
    store = EventStore(db, read_only=True)
    run = store.run(run_id)
    return run, [(e.seq, e.sim_time, e.kind, e.agent, e.data) for e in store.iter_events(run["run_id"])]


def test_a_killed_run_resumes_to_the_log_of_an_uninterrupted_one(tmp_path):
    scenario = str(WORLDS / "smallville.yaml")
    whole = tmp_path / "whole.db"
    assert cli("run", scenario, "--llm", "fake", "--until", "+2d", "--db", str(whole), "--no-progress").returncode == 0
    killed = tmp_path / "killed.db"
    proc = subprocess.Popen([sys.executable, "-m", "agentville.sim.cli", "run", scenario, "--llm", "fake", "--until", "+2d",
                             "--db", str(killed), "--no-progress"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    kill_after_events(proc, killed, 5000)
    run, partial = log_of(killed)
    assert run["status"] == "crashed"
    _, reference = log_of(whole)
    assert 0 < len(partial) < len(reference)
    resumed = cli("resume", str(killed), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    run, final = log_of(killed)
    assert run["status"] == "finished"
    assert final == reference
    again = cli("resume", str(killed))
    assert again.returncode == 2 and "nothing to resume" in again.stderr


def test_a_fork_shares_its_parents_events_up_to_the_fork_time(tmp_path):
    db = tmp_path / "fork.db"
    assert cli("run", str(WORLDS / "the_ville_3.yaml"), "--llm", "fake", "--until", "+1d", "--db", str(db),
               "--no-progress").returncode == 0
    parent, parent_log = log_of(db)
    changes = tmp_path / "quiet.yaml"
    changes.write_text("interventions: []  # nobody is told anything after the fork\n")
    forked = cli("fork", str(db), "--at", "+1h", "--scenario", str(changes), "--no-progress")
    assert forked.returncode == 0, forked.stderr
    child, child_log = log_of(db)
    assert child["parent_run_id"] == parent["run_id"] and child["fork_time"] == 3600
    upto = lambda log: [e for e in log if e[1] <= 3600]
    assert upto(child_log) == upto(parent_log) and len(upto(child_log)) > 10
    assert any(e[2] == "intervention" for e in parent_log) and not any(e[2] == "intervention" for e in child_log)
    assert child_log != parent_log


def test_fork_changes_are_checked(tmp_path):
    db = tmp_path / "f.db"
    assert cli("run", str(WORLDS / "the_ville_3.yaml"), "--llm", "fake", "--until", "+3h", "--db", str(db),
               "--no-progress").returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("interventions:\n  - {at: 2023-02-13T10:00, agent: Nobody, text: hi}\n")
    done = cli("fork", str(db), "--at", "+1h", "--scenario", str(bad))
    assert done.returncode == 2 and "interventions.0.agent: unknown persona 'Nobody'" in done.stderr
    late = cli("fork", str(db), "--at", "+5h")
    assert late.returncode == 2 and "--at +5h" in late.stderr
    for text, words in (("interventions: 5\n", "interventions: a list of interventions (got int)"),  # was a traceback
                        ("interventions: [\n", "cannot read the changes")):  # was several lines
        bad.write_text(text)
        done = cli("fork", str(db), "--at", "+1h", "--scenario", str(bad))
        assert done.returncode == 2 and words in done.stderr and len(done.stderr.strip().splitlines()) == 1, \
            done.stderr
