#!/usr/bin/env bash
# The Python client beside pyarrow 11's pyarrow.plasma client, on the same store in the same run,
# alternating (one repetition of every workload by ours, then by pyarrow's, REPETITIONS times), each
# repetition after one sample of the machine's limit for its row (limits_peer.c: memcpy into / read of
# populated shared memory at the object's size, a Unix-socket round trip); then seal -> future-resolved
# latency of as_future beside the Swift AsyncPlasmaClient's, same producer, alternating blocks (wake.py).
# Usage: python/bench/run.sh [REPETITIONS (5)] [WAKES (2000)]
#   PLASMA_STORE_ARGS: more options for the store (e.g. --pre-wake), split on spaces.
#   PLASMA_BENCH_COPY_THREADS: threads per copy of swiftplasma's large puts (default: the client's own,
#   one per core up to 4; 1: one thread). put-large is set against one thread's memcpy (the issue's
#   limit) and against the same copy on N threads (limits_peer's pcopy): N is these threads, or the
#   client's default when they are 1.
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
${CC:-cc} -O2 -o "$work/limits_peer" "$here/limits_peer.c"
export PLASMA_LIMITS_PEER="$work/limits_peer"
# shellcheck disable=SC2086  # PLASMA_STORE_ARGS is a list of options
"$bin/plasma-store" --memory 1G --socket "$socket" ${PLASMA_STORE_ARGS:-} 2>"$work/store.log" &
store=$!
trap 'kill $store 2>/dev/null; wait $store 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 300); do [ -S "$socket" ] && break; sleep 0.1; done

ours="$root/.venv-python/bin/python"
default_threads="$("$ours" -c 'from swiftplasma import _copy; print(_copy.default_threads())')"
if [ "${PLASMA_BENCH_COPY_THREADS:-0}" -gt 1 ]; then
    export PLASMA_BENCH_LIMIT_THREADS="$PLASMA_BENCH_COPY_THREADS"
else
    export PLASMA_BENCH_LIMIT_THREADS="$default_threads"
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, load average $(cut -d' ' -f1-3 /proc/loadavg); $("$ours" -c 'import sys, numpy, swiftplasma; print("Python", sys.version.split()[0], "numpy", numpy.__version__, "swiftplasma", swiftplasma.__version__)'); $("$root/.venv-arrow/bin/python" -c 'import sys, pyarrow; print("Python", sys.version.split()[0], "pyarrow", pyarrow.__version__)')"
echo "store: $bin/plasma-store --memory 1G ${PLASMA_STORE_ARGS:-}(release); $repetitions alternating repetitions, each after a warm-up; medians"
echo "swiftplasma copies large puts on ${PLASMA_BENCH_COPY_THREADS:-$default_threads} thread(s); N-thread copy limit: $PLASMA_BENCH_LIMIT_THREADS threads"
for _ in $(seq "$repetitions"); do
    PYTHONPATH="$here" "$ours" "$here/ours.py" "$socket" 1 >>"$work/ours.jsonl"
    PYTHONPATH="$here" "$root/.venv-arrow/bin/python" "$here/arrow11.py" "$socket" 1 >>"$work/arrow.jsonl"
done
PYTHONPATH="$here" "$ours" "$here/wake.py" "$socket" "$wakes" "$bin/plasma-bench" >"$work/wake.json"
"$bin/plasma-bench" wake-async --socket "$socket" --wakes "$wakes" --json >"$work/wake-swift.json" 2>/dev/null
"$ours" "$here/asyncio_floor.py" "$wakes" >"$work/asyncio-floor.json"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
"$ours" "$here/report.py" "$work"
