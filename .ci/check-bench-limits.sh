#!/usr/bin/env bash
# plasma-bench sets each figure against the machine's limit measured in the same invocation (issue 14):
# a short run of one row per kind of limit, then a check that every row carries its limit and ratio in
# the JSON, and that Benchmarks/readme-table.py turns the run into the README's table (into a copy).
set -euo pipefail
cd "$(dirname "$0")/.."
# BENCH_SCRATCH_PATH picks the build directory (default .build; .ci/run reuses its install build).
scratch=${BENCH_SCRATCH_PATH:-.build}
swift build -c release --scratch-path "$scratch" ${SWIFT_BUILD_FLAGS:-} --product plasma-bench >&2
swift build -c release --scratch-path "$scratch" ${SWIFT_BUILD_FLAGS:-} --product plasma-store >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$scratch/release/plasma-bench" --json --memory 1G --repetitions 2 --clients 1,2 --wakes 200 \
    put-small put-large get-large wake-blocking > "$work/run.json"
python3 - "$work/run.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
expected = {("put-small", 1): "1/uds-round-trip-polling", ("put-small", 2): "1/uds-round-trip-polling",
            ("put-large", 1): "copy-into-shared-64MiB", ("get-large", 1): "read-shared-64MiB",
            ("wake-blocking", 1): "uds-round-trip-p50"}
seen = {}
for row in rows:
    key = (row["workload"], row.get("clients", 1))
    assert row.get("limit", 0) > 0 and row.get("ratio", 0) > 0, f"{key}: no limit or ratio in {row}"
    seen[key] = row["limit_name"]
    print(f"{key[0]} x{key[1]}: ratio {row['ratio']:.2f} of {row['limit_name']} {row['limit']:.1f} {row['limit_unit']}")
assert seen == expected, f"rows {seen} != {expected}"
# put-large is also set against the same copy on N threads (ParallelCopy, what the client's write does).
put = next(row for row in rows if row["workload"] == "put-large")
assert put["parallel_limit"] > 0 and put["parallel_ratio"] > 0 and put["copy_threads"] >= 1, f"put-large: {put}"
assert put["parallel_limit_name"].startswith("copy-into-shared-64MiB-"), put["parallel_limit_name"]
print(f"put-large: ratio {put['parallel_ratio']:.2f} of {put['parallel_limit_name']} {put['parallel_limit']:.1f} GB/s "
      f"(copied on {put['copy_threads']} threads)")
assert rows[1]["per_client_median"] > 0, "the 2-client row has no per-client figure"
# The wake rows also carry the round trip after idle (each side waits as the row's sealer does).
wake = next(row for row in rows if row["workload"] == "wake-blocking")
assert wake["after_idle_limit"] > 0 and wake["after_idle_ratio"] > 0, f"wake-blocking: {wake}"
assert wake["after_idle_limit_name"] == "uds-round-trip-after-idle-p50", wake["after_idle_limit_name"]
print(f"wake-blocking: ratio {wake['after_idle_ratio']:.2f} of {wake['after_idle_limit_name']} {wake['after_idle_limit']:.1f} us")
PY
cp README.md "$work/README.md"
python3 Benchmarks/readme-table.py "$work/run.json" "$work/README.md"
grep -q '| put-large | .* GB/s | .* (copy-into-shared-64MiB)[;|]' "$work/README.md"
echo "bench limits: every row has its same-run limit; the README table regenerates"
