"""Model calls of a run whose answer was already known: what skipping them could save.

A scored choice does not depend on its seed, nor does a greedy (temperature
0) text, so a second request with the same prompt and options (or the same
prompt and budget) under another seed would need no computation. This counts,
for each run in a store, the model calls (``llm_call`` events) that were
computed (not cache hits), how many of them repeat an earlier call's
seed-free content, how many of those were in flight together (asked at the
same simulated second, so a worker could merge them), and the choices with
a single distinct option (whose answer is forced).

    python bench/repeats.py runs/demo.db [more.db ...]
"""

from __future__ import annotations

import argparse
import collections
import json
import sqlite3


def repeats(db: str) -> list[str]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    lines = []
    for (run_id,) in connection.execute("SELECT run_id FROM runs ORDER BY started_at"):
        calls = computed = forced = 0
        seen: dict[tuple, float] = {}
        again: collections.Counter[str] = collections.Counter()
        together: collections.Counter[str] = collections.Counter()
        for data, wall in connection.execute("SELECT data, wall FROM events WHERE run_id=? AND kind='llm_call' "
                                             "ORDER BY seq", (run_id,)):
            call, facts = json.loads(data), json.loads(wall or "{}")
            calls += 1
            if facts.get("cache_hit"):
                continue
            computed += 1
            options = call.get("options")
            if options is None:
                continue  # a text: its temperature is in the cache row, and every scenario so far samples
            forced += len(set(options)) == 1
            key = (call["prompt"], tuple(options))
            if key in seen:
                again[call["purpose"]] += 1
                together[call["purpose"]] += seen[key] == call["asked"]
            seen[key] = call["asked"]
        lines.append(f"{db} run {run_id}: {calls} calls, {computed} computed; seed-free repeats of a choice "
                     f"{sum(again.values())} {dict(again)}, in flight together {sum(together.values())}; "
                     f"single-option choices {forced}")
        temperatures = collections.Counter(json.loads(request).get("temperature") for (request,) in
                                           connection.execute("SELECT request FROM llm_cache"))
        lines.append(f"  cached requests by temperature (None: choices): {dict(temperatures)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", nargs="+")
    for db in parser.parse_args().db:
        print("\n".join(repeats(db)))


if __name__ == "__main__":
    main()
