#!/usr/bin/env bash
# Where the time of a seal -> wake goes (Benchmarks/README.md, "Wake latency, step by step").
#
#   Benchmarks/wake-breakdown.sh [seals]
#
# 1. The same path with nothing of ours in it (wake-breakdown/chain.c): three C processes, a sealer, a
#    relay in epoll_wait and a waiter in poll, each asleep before its message; and the two-process round
#    trip after idle, the wake rows' second limit.
# 2. plasma-bench's wake-blocking row as is, then under wake-breakdown/stamps.c (LD_PRELOAD), which stamps
#    the syscalls of the sealer, the store and the waiter; breakdown.py splits each seal into its steps.
#    The difference of the two rows is what the stamps themselves add.
# 3. The store's step from a request's read to its answer when warm: put-small-inline under the same
#    stamps (createAndSeal back to back: the store sleeps between requests only as long as a round trip).
# Builds the C files with the system compiler into a temporary directory; runs the release
# plasma-bench of .build (BENCH_SCRATCH_PATH to use another), building it if missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seals="${1:-2000}"
scratch="${BENCH_SCRATCH_PATH:-.build}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$here/.."
${CC:-cc} -O2 -o "$work/chain" "$here/wake-breakdown/chain.c"
${CC:-cc} -O2 -shared -fPIC -o "$work/stamps.so" "$here/wake-breakdown/stamps.c" -ldl -lpthread
bench="$scratch/release/plasma-bench"
[[ -x "$bench" ]] || swift build -c release --scratch-path "$scratch" --product plasma-bench >&2
[[ -x "$scratch/release/plasma-store" ]] || swift build -c release --scratch-path "$scratch" --product plasma-store >&2

echo "== the path's shape without us (C, $seals rounds)"
"$work/chain" 3 "$seals"
"$work/chain" 2 "$seals"

echo "== plasma-bench wake-blocking as is, then under the stamps ($seals seals each): what stamping adds"
"$bench" --memory 1G --repetitions 1 --wakes "$seals" wake-blocking | grep '^wake-blocking'
echo "== plasma-bench wake-blocking under the stamps ($seals seals)"
mkdir "$work/wake"
STAMPS_DIR="$work/wake" LD_PRELOAD="$work/stamps.so" \
    "$bench" --memory 1G --repetitions 1 --wakes "$seals" wake-blocking | grep '^wake-blocking'
python3 "$here/wake-breakdown/breakdown.py" "$work/wake"

echo "== the store warm: put-small-inline under the stamps"
mkdir "$work/warm"
STAMPS_DIR="$work/warm" LD_PRELOAD="$work/stamps.so" \
    "$bench" --memory 1G --repetitions 1 put-small-inline | grep '^put-small-inline'
python3 "$here/wake-breakdown/breakdown.py" --warm "$work/warm"
