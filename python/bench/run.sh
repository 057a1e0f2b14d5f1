#!/usr/bin/env bash
# The Python client beside pyarrow 11's pyarrow.plasma client, on the same store in the same run, with
# the machine's limits (Benchmarks/limits.sh: memcpy of 64 MiB into memfd pages, a socket round trip)
# at the start and the end, and seal -> future-resolved latency beside the Swift async client's
# (plasma-bench wake-async). Usage: python/bench/run.sh [REPETITIONS (5)] [WAKES (2000)]
# Builds plasma-store and plasma-bench in release mode and sets up .venv-python and .venv-arrow.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/python/bench"
repetitions="${1:-5}"
wakes="${2:-2000}"
cd "$root"
swift build -c release --product plasma-store >/dev/null
swift build -c release --product plasma-bench >/dev/null
bin="$(swift build -c release --show-bin-path)"
bash python/setup-venv.sh >/dev/null
bash Tests/arrow-interop/setup.sh >/dev/null

work="$(mktemp -d)"
socket="$work/plasma.sock"
"$bin/plasma-store" --memory 1G --socket "$socket" 2>"$work/store.log" &
store=$!
trap 'kill $store 2>/dev/null; wait $store 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 300); do [ -S "$socket" ] && break; sleep 0.1; done

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $("$root/.venv-python/bin/python" -c 'import sys, numpy, swiftplasma; print("Python", sys.version.split()[0], "numpy", numpy.__version__, "swiftplasma", swiftplasma.__version__)'); $("$root/.venv-arrow/bin/python" -c 'import sys, pyarrow; print("Python", sys.version.split()[0], "pyarrow", pyarrow.__version__)')"
echo "store: $bin/plasma-store --memory 1G (release); $repetitions repetitions after a warm-up, medians"
bash Benchmarks/limits.sh | sed 's/^/limits (start): /'
PYTHONPATH="$here" "$root/.venv-python/bin/python" "$here/ours.py" "$socket" "$repetitions" >"$work/ours.json"
PYTHONPATH="$here" "$root/.venv-arrow/bin/python" "$here/arrow11.py" "$socket" "$repetitions" >"$work/arrow.json"
"$root/.venv-python/bin/python" "$here/wake.py" "$socket" "$wakes" >"$work/wake-python.json"
"$bin/plasma-bench" wake-async --socket "$socket" --wakes "$wakes" --json >"$work/wake-swift.json" 2>/dev/null
"$root/.venv-python/bin/python" "$here/asyncio_floor.py" "$wakes" >"$work/asyncio-floor.json"
bash Benchmarks/limits.sh | sed 's/^/limits (end):   /'
"$root/.venv-python/bin/python" - "$work" <<'PY'
import json, sys
work = sys.argv[1]
ours = json.load(open(f"{work}/ours.json"))["results"]
arrow = json.load(open(f"{work}/arrow.json"))["results"]
print()
print(f"{'workload':22}{'swiftplasma':>26}{'pyarrow 11 plasma':>26}{'ours/pyarrow':>14}")
for name, mine in ours.items():
    theirs = arrow[name]
    unit = "GB/s" if "MiB" in name else "ops/s"
    fmt = (lambda v: f"{v:,.2f} {unit}") if unit == "GB/s" else (lambda v: f"{v:,.0f} {unit}")
    print(f"{name:22}{fmt(mine['median']):>26}{fmt(theirs['median']):>26}{mine['median'] / theirs['median']:>13.2f}x"
          f"   (ours {fmt(mine['min'])} … {fmt(mine['max'])}; pyarrow {fmt(theirs['min'])} … {fmt(theirs['max'])})")
python = json.load(open(f"{work}/wake-python.json"))
swift = json.load(open(f"{work}/wake-swift.json"))[0]  # plasma-bench --json: one row
print()
print(f"seal -> resolved, p50: swiftplasma as_future {python['p50']:.1f} us (p99 {python['p99']:.1f}), "
      f"Swift AsyncPlasmaClient {float(swift['p50']):.1f} us (p99 {float(swift['p99']):.1f}); "
      f"ratio {python['p50'] / float(swift['p50']):.2f}x ({python['samples']} samples each)")
floor = json.load(open(f"{work}/asyncio-floor.json"))
print(f"asyncio floor (a bare asyncio reader of a socketpair woken by another process, no store): p50 {floor['p50']:.1f} us")
PY
