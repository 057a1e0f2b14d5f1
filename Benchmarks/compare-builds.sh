#!/usr/bin/env bash
# Two builds of plasma-bench side by side in one invocation: e.g. a commit and the one before it, to show
# a change costs no speed. Rounds alternate (before, after, before, …) so that the machine's drift hits
# both; the machine's limits (Benchmarks/limits.sh) are printed at the start and at the end.
#
# Usage: Benchmarks/compare-builds.sh BEFORE_PLASMA_BENCH AFTER_PLASMA_BENCH [ROUNDS] [WORKLOAD ...]
#   Each binary starts its own store (its sibling plasma-store). Defaults: 3 rounds of put-small-inline
#   put-small get-small put-large get-large, --memory 1G, --repetitions 5.
# To build an older commit: git worktree add /tmp/before REV && (cd /tmp/before && swift build -c release
#   --product plasma-bench && swift build -c release --product plasma-store).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
before="${1:?usage: $0 BEFORE_PLASMA_BENCH AFTER_PLASMA_BENCH [ROUNDS] [WORKLOAD ...]}"
after="${2:?usage: $0 BEFORE_PLASMA_BENCH AFTER_PLASMA_BENCH [ROUNDS] [WORKLOAD ...]}"
rounds="${3:-3}"
shift $(( $# < 3 ? $# : 3 ))
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(put-small-inline put-small get-small put-large get-large)
"$here/limits.sh"
for round in $(seq 1 "$rounds"); do
    for side in before after; do
        bin="$before"; [ "$side" = after ] && bin="$after"
        echo "== round $round: $side ($bin)"
        # Builds that sample the machine's limits between repetitions are told not to: the other build
        # doesn't, and the samples would change what its repetitions start from (caches, idle CPUs).
        extra=(); "$bin" --help 2>/dev/null | grep -q -- --no-limits && extra=(--no-limits)
        "$bin" --memory 1G --repetitions 5 ${extra[@]+"${extra[@]}"} "${workloads[@]}" 2>/dev/null | grep -E "^(put|get|await|wake)"
    done
done
"$here/limits.sh"
