#!/usr/bin/env bash
# What a cluster attachment costs local small operations (issue 15, item 7: target >= 95 %).
# Starts two release stores in this one invocation, one plain and one with a no-op cluster attachment
# (Benchmarks/cluster-overhead/main.swift), and runs plasma-bench's small-op rows against each in turn,
# ROUNDS times, alternating, so that both see the same machine load. Prints each round's rows and the
# medians' ratio (cluster / plain) per workload.
#
#   Benchmarks/cluster-overhead.sh [ROUNDS] [WORKLOADS]     # defaults: 3, "put-small get-small"
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
workloads=${2:-put-small get-small}
swift build -c release --product cluster-overhead-store >/dev/null
swift build -c release --product plasma-bench >/dev/null
bin=$(swift build -c release --show-bin-path)
scratch=$(mktemp -d)
trap 'kill $plain $clustered 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$scratch"' EXIT
"$bin/cluster-overhead-store" "$scratch/plain.sock" $((1 << 30)) > "$scratch/plain.log" 2>&1 &
plain=$!
"$bin/cluster-overhead-store" "$scratch/cluster.sock" $((1 << 30)) --no-op-cluster > "$scratch/cluster.log" 2>&1 &
clustered=$!
for socket in plain cluster; do
    for _ in $(seq 100); do [ -S "$scratch/$socket.sock" ] && break; sleep 0.1; done
done
for round in $(seq "$rounds"); do
    for store in plain cluster; do
        echo "== round $round, store: $store"
        # shellcheck disable=SC2086
        "$bin/plasma-bench" --socket "$scratch/$store.sock" --json $workloads > "$scratch/$store-$round.json"
        cat "$scratch/$store-$round.json"
    done
done
python3 - "$scratch" "$rounds" <<'PY'
import json, statistics, sys
scratch, rounds = sys.argv[1], int(sys.argv[2])
def rates(store):
    table = {}
    for r in range(1, rounds + 1):
        for row in json.load(open(f"{scratch}/{store}-{r}.json")):
            table.setdefault(row["workload"], []).append((float(row["median"]), float(row.get("limit", 0))))
    return table
plain, cluster = rates("plain"), rates("cluster")
for name in sorted(plain):
    if name not in cluster: continue
    p = statistics.median(v for v, _ in plain[name])
    c = statistics.median(v for v, _ in cluster[name])
    limit = statistics.median(l for _, l in plain[name] + cluster[name])
    print(f"{name}: plain {p:,.0f} ops/s, no-op cluster {c:,.0f} ops/s, ratio {c / p:.3f} "
          f"(medians of {rounds} alternating rounds; same-run limit, Unix-socket round trip: {limit:,.0f} ops/s)")
PY
