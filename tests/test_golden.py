"""The refactor guard: whole fake runs must log exactly the rows they logged before.

``tests/golden_digests.json`` holds the digest of every ``(seq, sim_time,
kind, agent, data)`` row of three runs (Smallville's day with seed 7, and two
ablation settings). A change meant to change behaviour regenerates it with
``python -m tests.golden --write`` in the same commit and says so; any other
change must leave the digests as they are.
"""

from __future__ import annotations

import json

import pytest

from . import golden


@pytest.mark.parametrize("name", sorted(golden.CASES))
def test_the_log_is_exactly_the_golden_one(name, tmp_path):
    expected = json.loads(golden.DIGESTS.read_text())[name]
    assert list(golden.run_case(name, tmp_path)) == expected


@pytest.mark.parametrize("name", sorted(golden.CASES))
def test_out_of_order_the_log_is_exactly_the_golden_one(name, tmp_path):
    """The out-of-order engine runs areas on their own clocks and still logs the very same rows."""
    expected = json.loads(golden.DIGESTS.read_text())[name]
    assert list(golden.run_case(name, tmp_path, scheduling="out-of-order")) == expected
