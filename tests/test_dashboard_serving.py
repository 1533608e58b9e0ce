"""What the dashboard serves: the store it was started on, or a store of its runs folder picked by name (issue 26).

``?db=`` comes from whoever wrote the link. It may name a store of the runs
folder by its file name and nothing else; any other value is one line on the
page, the same whether what it names exists or not. A store that cannot be
read (damaged, not SQLite, gone, locked) is one line on the page too, never a
traceback. Through Streamlit's AppTest (no browser); tests/test_dashboard_browser.py
tries the same against the real server.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from agentville.dashboard import stores
from agentville.sim.generation import FakeBackend
from agentville.sim.lab.experiment import Experiment
from agentville.sim.scenario import Scenario
from tests.conftest import ROOT, TINY

APP = str(ROOT / "dashboard" / "app.py")
OUTSIDE_TOWN = "Secret town"
OUTSIDERS = ("Quentin", "Zora")  # the outside store's people, in place of Ann and Bob
SECRET = TINY.replace("Tiny town", OUTSIDE_TOWN).replace("Ann", OUTSIDERS[0]).replace("Bob", OUTSIDERS[1])
REFUSED = "names no store of this dashboard"  # the one line for every ?db= not followed


def make_store(db: Path, scenario_text: str) -> Path:
    with Experiment(Scenario.model_validate(yaml.safe_load(scenario_text)), db=db, backend=FakeBackend()) as exp:
        exp.run("+30m")
    return db


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, Path]:
    """A runs folder holding tiny.db, and a store of another town outside it (outside/secret.db)."""
    top = tmp_path_factory.mktemp("serving")
    runs, outside = top / "runs", top / "outside"
    runs.mkdir(), outside.mkdir()
    make_store(runs / "tiny.db", TINY)
    make_store(outside / "secret.db", SECRET)
    return runs, outside / "secret.db"


@pytest.fixture
def folder(made, tmp_path) -> Iterator[tuple[Path, Path]]:
    """A runs folder of this test's own (tiny.db, plus what the test adds) and the outside store."""
    runs, secret = made
    mine = tmp_path / "runs"
    shutil.copytree(runs, mine)
    yield mine, secret


def page(monkeypatch, *, db: Path | None = None, runs: Path | None = None,
         asked: str | list[str] | None = None, test: AppTest | None = None) -> AppTest:
    """The page as served on ``db`` (else on the runs folder ``runs``), opened with ``?db=asked``."""
    if db is None:
        monkeypatch.delenv("AGENTVILLE_DB", raising=False)
    else:
        monkeypatch.setenv("AGENTVILLE_DB", str(db))
    folder = runs or (db.parent if db else None)
    assert folder is not None
    monkeypatch.setenv("AGENTVILLE_RUNS_DIR", str(folder))
    test = test or AppTest.from_file(APP, default_timeout=60)
    if asked is not None:
        test.query_params["db"] = asked
    return test.run()


def shown(test: AppTest) -> str:
    """Everything the page holds, as the text of its elements' messages."""
    def walk(node) -> Iterator:
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    return "\n".join(str(node.proto) for node in walk(test._tree) if getattr(node, "proto", None) is not None)


def one_line(test: AppTest, *, outside: Path | None = None) -> str:
    """The page's only message, checked to be one error line that shows no traceback, no outside store and no
    server path."""
    assert not test.exception, [e.value for e in test.exception]
    errors = [e.value for e in test.error]
    assert len(errors) == 1, errors
    (line,) = errors
    text = shown(test)
    assert "\n" not in line.strip() and "Traceback" not in text and ".py" not in text
    assert str(ROOT) not in text and "/tmp" not in text, text[-2000:]
    assert OUTSIDE_TOWN not in text and not any(name in text for name in OUTSIDERS)
    assert not test.metric and not test.tabs and not test.selectbox  # nothing of any store but the line
    return line.replace("\\", "").replace("\u2060", "")  # shown as Markdown: punctuation escaped, patterns broken


def shows_tiny(test: AppTest) -> None:
    assert not test.exception and not test.error, [e.value for e in test.exception or test.error]
    text = shown(test)
    assert "Tiny town" in text and "Ann" in text and OUTSIDE_TOWN not in text


# ----- ?db= names a store of the runs folder, and nothing else -----

def test_a_store_of_the_runs_folder_opens_by_its_name(monkeypatch, folder):
    runs, _ = folder
    for name in ("tiny.db", "tiny"):
        shows_tiny(page(monkeypatch, runs=runs, asked=name))


def test_picking_a_store_puts_its_name_in_the_url_never_a_path(monkeypatch, folder):
    runs, _ = folder
    test = page(monkeypatch, runs=runs)
    listing = test.dataframe[0].value
    assert list(listing["db"]) == ["tiny.db"] and str(runs) not in shown(test)
    test.button[0].click().run()
    assert test.query_params["db"] == "tiny.db"
    shows_tiny(test)


def escapes(runs: Path, secret: Path) -> list[str | list[str]]:
    """Values of ?db= that name what is not a store of ``runs`` by name (as the app reads them: decoded once)."""
    missing = secret.parent / "nothing-here.db"
    return [str(secret), str(missing), f"{runs}/tiny.db", f"../{secret.parent.name}/{secret.name}",
            f"..\\{secret.parent.name}\\{secret.name}", f"{runs}/../{secret.parent.name}/secret.db",
            "..%2Foutside%2Fsecret.db", "%2e%2e/outside/secret.db", "./tiny.db", "runs/tiny.db", "..", ".", "",
            "/etc/passwd", "tiny.db\x00", "tiny\x00.db", "x" * 300, "tiny" * 2000 + ".db", "dir.db", "escape.db",
            "escape", "loop.db", "dangling.db", "secret.db", "secret", "tiny.db ", " tiny.db", "TINY.DB",
            ["tiny.db", str(secret)], ["tiny.db", "tiny.db"]]


def test_a_db_that_is_no_store_of_the_runs_folder_is_one_line_the_same_for_every_value(monkeypatch, folder):
    runs, secret = folder
    (runs / "dir.db").mkdir()  # a folder named like a store
    (runs / "escape.db").symlink_to(secret)  # a link leading out of the runs folder
    (runs / "loop.db").symlink_to(runs / "loop.db")
    (runs / "dangling.db").symlink_to(runs / "gone.db")
    lines = set()
    for asked in escapes(runs, secret):
        line = one_line(page(monkeypatch, runs=runs, asked=asked))
        assert REFUSED in line, (asked, line)
        lines.add(line)
    assert len(lines) == 1, lines  # whether the path exists or not: the same line


def test_the_runs_folders_listing_leaves_out_links_leading_out_of_it(monkeypatch, folder):
    runs, secret = folder
    (runs / "escape.db").symlink_to(secret)
    (runs / "inside.db").symlink_to(runs / "tiny.db")  # a link within the folder is one of its stores
    assert sorted(stores.store_files(runs)) == ["inside.db", "tiny.db"]
    assert sorted(stores.find_stores(runs)["db"]) == ["inside.db", "tiny.db"]
    shows_tiny(page(monkeypatch, runs=runs, asked="inside"))


# ----- started on one store, the page shows that store only -----

def test_started_on_a_store_the_url_cannot_name_another(monkeypatch, folder):
    runs, secret = folder
    shutil.copy(secret, runs / "secret.db")  # another store, even one in the runs folder
    tiny = runs / "tiny.db"
    shows_tiny(page(monkeypatch, db=tiny))
    lines = set()
    for asked in [str(secret), "secret.db", "secret", str(runs / "secret.db"), "../outside/secret.db", "",
                  "tiny.db", str(tiny), "x" * 5000, ["secret.db", "tiny.db"]]:
        line = one_line(page(monkeypatch, db=tiny, runs=runs, asked=asked))
        assert "tiny.db" in line and "without ?db=" in line, (asked, line)
        lines.add(line)
    assert len(lines) == 1, lines


# ----- every store problem is one line -----

def damaged(runs: Path) -> dict[str, Path]:
    """Stores that cannot be read, each as a file of ``runs``."""
    tiny = (runs / "tiny.db").read_bytes()
    made = {"notes.db": b"shopping: milk, eggs\n", "truncated.db": tiny[:4096], "empty.db": b"",
            "scrambled.db": tiny[:100] + bytes(len(tiny) - 100)}
    for name, data in made.items():
        (runs / name).write_bytes(data)
    other = runs / "other.db"  # SQLite, but another program's
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (text)")
    return {name: runs / name for name in [*made, "other.db"]}


def test_a_store_that_cannot_be_read_is_one_line_by_name_or_at_start(monkeypatch, folder):
    runs, _ = folder
    for name, path in damaged(runs).items():
        for test in (page(monkeypatch, runs=runs, asked=name), page(monkeypatch, db=path)):
            line = one_line(test)
            assert line.startswith(name) and REFUSED not in line, (name, line)
    assert sorted(stores.find_stores(runs)["db"]) == ["tiny.db"]  # the listing shows the stores it can read


def test_a_store_deleted_or_overwritten_while_served_is_one_line(monkeypatch, folder):
    runs, _ = folder
    for served, said in (({"runs": runs, "asked": "tiny.db"}, REFUSED), ({"db": runs / "tiny.db"}, "tiny.db is gone")):
        shutil.copy(runs / "tiny.db", runs / "spare.db")
        test = page(monkeypatch, **served)
        shows_tiny(test)
        (runs / "tiny.db").unlink()  # by name: the runs folder holds no such store any more
        line = one_line(test.run())
        assert said in line, line
        (runs / "tiny.db").write_bytes(b"not a store any more")
        line = one_line(test.run())
        assert line.startswith("tiny.db") and "cannot be read" in line, line
        (runs / "spare.db").rename(runs / "tiny.db")
        shows_tiny(test.run())


def test_a_locked_store_is_one_line(monkeypatch, folder):
    runs, _ = folder
    tiny = runs / "tiny.db"
    with sqlite3.connect(tiny, isolation_level=None) as writer:
        writer.execute("PRAGMA journal_mode=DELETE")  # readers wait for a writer's lock (WAL would let them read)
        writer.execute("BEGIN EXCLUSIVE")
        try:
            for served in ({"runs": runs, "asked": "tiny.db"}, {"db": tiny}):
                line = one_line(page(monkeypatch, **served))
                assert line.startswith("tiny.db") and "locked" in line, line
        finally:
            writer.execute("ROLLBACK")


# ----- Streamlit's own error details are off -----

class Started(Exception):
    """Raised in place of the server replacing the test's process."""


def test_streamlits_error_details_are_off_in_the_page_and_on_the_command_line(monkeypatch, folder):
    import os

    import streamlit.config

    from agentville.sim.cli import main
    from tests.servers import free_port

    runs, _ = folder
    monkeypatch.setattr(streamlit.config, "_config_options", None)  # the defaults, as a fresh server has them
    shows_tiny(page(monkeypatch, runs=runs, asked="tiny.db"))
    assert streamlit.config.get_option("client.showErrorDetails") == "none"  # even under `streamlit run app.py`
    started: list[list[str]] = []

    def execve(program: str, command: list[str], env: dict) -> None:
        started.append(command)
        raise Started

    monkeypatch.setattr(os, "execve", execve)
    for db in ([str(runs / "tiny.db")], []):
        with pytest.raises(Started):
            main(["dashboard", *db, "--runs-dir", str(runs), "--port", str(free_port()), "--headless"])
        option = started[-1].index("--client.showErrorDetails")
        assert started[-1][option + 1] == "none" and option < started[-1].index("--")
