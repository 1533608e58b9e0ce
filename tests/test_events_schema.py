"""The event schema in sim/core/events.py is the one definition writers and readers share."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from agentville.sim.core import events
from agentville.sim.core.kernel import Kernel
from agentville.sim.core.location import Location, place_of
from agentville.sim.store.eventlog import EventLog
from agentville.sim.store.eventstore import EventStore

from . import golden
from .conftest import ROOT


def test_the_readme_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- events table: generated from sim/core/events.py -->\n(.*?)\n<!-- end of events table -->",
                      readme, re.S)
    assert found, "README.md lost the markers around the events table"
    assert found.group(1) == events.markdown_table(), "regenerate the README's events table from sim/core/events.py"


@pytest.mark.parametrize("name", ["the_ville_3-no-reflection-seed3", "smallville-day-seed7"])
def test_every_logged_row_matches_its_payload(name, tmp_path):
    golden.run_case(name, tmp_path)
    with EventStore(tmp_path / f"{name}.db", read_only=True) as store:
        rows = list(store.iter_events(store.run()["run_id"]))
    wrong = Counter(problem for e in rows for problem in events.problems(e.kind, e.data))
    assert not wrong, wrong.most_common(5)
    seen = {e.kind for e in rows}
    assert {events.MOVE, events.MEMORY, events.PLAN, events.UTTERANCE, events.LLM_CALL} <= seen


def test_problems_names_missing_unexpected_and_unknown():
    assert events.problems(events.ARRIVED, {"location": "Cafe: hall"}) == []
    assert events.problems(events.ARRIVED, {}) == ["arrived: missing location"]
    assert events.problems(events.ARRIVED, {"location": "x", "mood": 1}) == ["arrived: unexpected mood"]
    assert events.problems("teleported", {}) == ["unknown event kind 'teleported'"]
    assert events.problems(events.PLAN, {"level": "steps", "activity": "a", "minutes": 5, "steps": []}) == []


def test_the_log_refuses_a_kind_the_schema_does_not_define():
    log = EventLog(Kernel())

    class Writer:
        rows: list = []

        def append(self, *row):
            self.rows.append(row)

        def flush(self):
            pass

    log.open(Writer())  # type: ignore[arg-type]
    log(events.ARRIVED, "Ann", location="Cafe: hall")
    with pytest.raises(ValueError, match="unknown event kind 'teleported'"):
        log("teleported", "Ann")
    assert log.seq == 1 and log.kinds[events.ARRIVED] == 1


def test_locations_round_trip_through_their_one_spelling():
    where = Location("Hobbs Cafe", "cafe", "counter")
    assert str(where) == "Hobbs Cafe: cafe: counter" and Location.parse(str(where)) == where
    assert Location.parse("Hobbs Cafe: cafe") == Location("Hobbs Cafe", "cafe")
    assert place_of("Hobbs Cafe: cafe: counter") == "Hobbs Cafe" and place_of("") == ""
