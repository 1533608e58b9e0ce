#!/usr/bin/env bash
# One short run that proves the GPU path: the generation benchmark and a
# 25-agent Smallville hour, both on random-weight models (nothing to download),
# then one summary table. It installs nothing: it uses the project's venv
# (.venv/bin/python if present, else python) and sets the Hugging Face
# libraries offline. Meant for a machine with a CUDA GPU and no internet; the
# defaults fit in about 8 minutes on one H200 (each step has a time limit, and
# the table is printed even when a step fails or runs out of time).
#
#   bash bench/gpu_check.sh                       # on a GPU machine
#   GPU_CHECK_ALLOW_CPU=1 GPU_CHECK_ARCH=tiny GPU_CHECK_N=4 GPU_CHECK_N_BIG= \
#     GPU_CHECK_UNTIL=+5m bash bench/gpu_check.sh   # small, on a CPU (what CI runs)
#
# Settings (environment):
#   GPU_CHECK_ARCH        random architecture (default qwen2-0.5b; also llama-1b, tiny)
#   GPU_CHECK_N           request counts benchmarked with every method (default "8 32")
#   GPU_CHECK_N_BIG       counts benchmarked without method (a), one request at a
#                         time, which would take most of the budget (default "128"; empty: none)
#   GPU_CHECK_SKIP        further methods of bench/generation.py to skip (default: none)
#   GPU_CHECK_UNTIL       simulated time of the Smallville run (default +1h)
#   GPU_CHECK_GEN_TIMEOUT, GPU_CHECK_RUN_TIMEOUT
#                         seconds per step (default 150 each: three steps, under 8 minutes in all)
#   GPU_CHECK_OUT         folder for the logs and the run's event store (default: a new temp folder)
#   GPU_CHECK_ALLOW_CPU=1 run on the CPU when there is no CUDA GPU (else exit 2)
#   GPU_CHECK_PYTHON      the Python to use (default .venv/bin/python, else python)
# Exit status: 0 when every step finished, 1 when one failed or timed out, 2 without a GPU.
set -euo pipefail

STARTED=$(date +%s.%N)
cd "$(dirname "$0")/.."
PY=python
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; fi
PY=${GPU_CHECK_PYTHON:-$PY}
ARCH=${GPU_CHECK_ARCH:-qwen2-0.5b}
N=${GPU_CHECK_N:-8 32}
N_BIG=${GPU_CHECK_N_BIG-128}
UNTIL=${GPU_CHECK_UNTIL:-+1h}
GEN_TIMEOUT=${GPU_CHECK_GEN_TIMEOUT:-150}
RUN_TIMEOUT=${GPU_CHECK_RUN_TIMEOUT:-150}
OUT=${GPU_CHECK_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

if "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    DEVICE=cuda
elif [ "${GPU_CHECK_ALLOW_CPU:-0}" = 1 ]; then
    echo "gpu_check: no CUDA GPU visible to torch; running on the CPU because GPU_CHECK_ALLOW_CPU=1" >&2
    DEVICE=cpu
else
    echo "gpu_check: no CUDA GPU visible to torch (set GPU_CHECK_ALLOW_CPU=1 to run on the CPU anyway)" >&2
    exit 2
fi
SKIP=${GPU_CHECK_SKIP-}

# step NAME TIMEOUT COMMAND...: run with a time limit, log to $OUT/NAME.log, record status and seconds
step() {
    local name=$1 limit=$2 rc=0 started
    shift 2
    echo "gpu_check: $name ..." >&2
    started=$(date +%s.%N)
    timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.log" 2>&1 || rc=$?
    echo "$started $(date +%s.%N)" >"$OUT/$name.time"
    case $rc in
        0) echo ok >"$OUT/$name.status" ;;
        124 | 137) echo "timed out after ${limit}s" >"$OUT/$name.status" ;;
        *) echo "failed (exit $rc)" >"$OUT/$name.status"; tail -n 20 "$OUT/$name.log" >&2 ;;
    esac
}

skip_args=()
if [ -n "$SKIP" ]; then read -r -a skip_args <<<"$SKIP"; fi
read -r -a n_all <<<"$N"
step generation "$GEN_TIMEOUT" "$PY" bench/generation.py --random-arch "$ARCH" --device "$DEVICE" \
    --n "${n_all[@]}" --skip "${skip_args[@]}"
if [ -n "$N_BIG" ]; then
    read -r -a n_big <<<"$N_BIG"
    step generation_big "$GEN_TIMEOUT" "$PY" bench/generation.py --random-arch "$ARCH" --device "$DEVICE" \
        --n "${n_big[@]}" --skip a "${skip_args[@]}"
fi
rm -f "$OUT/smallville.db"
step smallville "$RUN_TIMEOUT" "$PY" -m agentville.sim.cli run worlds/smallville.yaml --llm transformers \
    --model "random:$ARCH" --until "$UNTIL" --db "$OUT/smallville.db" --no-progress

"$PY" - "$OUT" "$ARCH" "$UNTIL" "$STARTED" <<'EOF'
"""Print the one summary table from the steps' logs, times and the run's event store."""
import json
import re
import sqlite3
import sys
import time
from pathlib import Path

import torch
import transformers

out, arch, until, started = Path(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
ROW = re.compile(r"^\s*\d+\s+\([a-z]\)\s")


def status(name):
    path = out / f"{name}.status"
    return path.read_text().strip() if path.exists() else None


def seconds(name):
    start, end = (out / f"{name}.time").read_text().split()
    return float(end) - float(start)


def smallville(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    (run_id,) = con.execute("select run_id from runs order by started_at desc limit 1").fetchone()
    calls = [json.loads(d) for (d,) in con.execute("select data from events where run_id = ? and kind = 'llm_call'",
                                                   (run_id,))]
    parse_fallbacks = con.execute("select count(*) from events where run_id = ? and kind = 'fallback'",
                                  (run_id,)).fetchone()[0]
    return calls, parse_fallbacks


gpu = torch.cuda.is_available()
rows = [("device", torch.cuda.get_device_name(0) if gpu else f"cpu ({torch.get_num_threads()} threads)"),
        ("torch / transformers", f"{torch.__version__} / {transformers.__version__}"),
        ("model", f"random:{arch}")]
failed = False
for name in ("generation", "generation_big"):
    state = status(name)
    if state is None:
        continue
    failed |= state != "ok"
    rows.append((f"{name.replace('_', ' ')} ({seconds(name):.0f} s)", state))
    lines = (out / f"{name}.log").read_text().splitlines()
    header = next((line for line in lines if line.lstrip().startswith("N ")), None)
    if header:
        rows.append(("", header.rstrip()))
    rows += [("", line.rstrip()) for line in lines if ROW.match(line)]
state = status("smallville")
failed |= state != "ok"
said = re.search(r"in ([\d.]+) s of wall time", (out / "smallville.log").read_text())
wall = float(said.group(1)) if said else seconds("smallville")  # the simulation alone, else the whole process
rows.append((f"smallville, 25 agents, {until}", state))
rows.append(("  wall s (simulation / process)", f"{said.group(1) if said else '-'} / {seconds('smallville'):.1f}"))
db = out / "smallville.db"
if db.exists():
    calls, parse_fallbacks = smallville(db)
    tokens = sum(c.get("output_tokens") or 0 for c in calls)
    rows += [("  llm calls", str(len(calls))),
             ("  calls/s", f"{len(calls) / wall:.2f}"),
             ("  output tokens/s", f"{tokens / wall:.1f}"),
             ("  llm fallbacks", str(sum(bool(c.get("fallback")) for c in calls))),
             ("  parse fallbacks", str(parse_fallbacks))]
rows.append(("total s", f"{time.time() - started:.0f}"))
rows.append(("logs", str(out)))
width = max(len(key) for key, _ in rows)
print(f"{'Agentville GPU check':=^{width + 60}}")
for key, value in rows:
    print(f"{key:<{width}}  {value}")
sys.exit(1 if failed else 0)
EOF
