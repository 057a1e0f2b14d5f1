#!/usr/bin/env bash
# Runs the integration suites ROUNDS times in a row under CPU load, to show they don't depend on timing
# (issue 13). Usage: .ci/repeat-tests.sh [ROUNDS] [LOAD_PROCESSES]
#   ROUNDS          rounds of the suites (default 20)
#   LOAD_PROCESSES  busy loops kept running meanwhile (default: one per core)
# FILTER / SKIP override what runs (defaults: the integration tests without the pyarrow interop run;
# SKIP= skips nothing); SWIFT_TEST_ARGS adds arguments to the build and each run, e.g. ThreadSanitizer:
#   FILTER='AsyncClientTests|SubscriptionTests|aGetWaitingOnOneThreadDoesNotBlockAnotherThreadsRequests' SKIP= \
#   SWIFT_TEST_ARGS='--scratch-path .build-tsan --sanitize=thread' .ci/repeat-tests.sh 20 0
# Builds once first, then runs with --skip-build. Prints one line per round and a summary; keeps each
# failing round's output in .build/repeat-tests/round-N.log. Exits 1 if any round failed.
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
load=${2:-$(nproc)}
filter=${FILTER:-PlasmaIntegrationTests}
skip=${SKIP-ArrowInteropTests}
read -r -a extra <<<"${SWIFT_TEST_ARGS:-}"
selection=(--filter "$filter")
if [ -n "$skip" ]; then selection+=(--skip "$skip"); fi
logs=.build/repeat-tests
mkdir -p "$logs"

swift build --build-tests "${extra[@]}" || exit 2

hogs=()
stop_load() { for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null; done; }
trap stop_load EXIT
for _ in $(seq 1 "$load"); do
    ( while :; do :; done ) &
    hogs+=($!)
done
echo "load: ${#hogs[@]} busy loops (pids ${hogs[*]}) on $(nproc) cores"

failed=0
for round in $(seq "$rounds"); do
    started=$(date +%s)
    log="$logs/round-$round.log"
    swift test --skip-build "${extra[@]}" "${selection[@]}" >"$log" 2>&1
    status=$?
    summary=$(grep -aE 'Test run with' "$log" | tail -1)
    if [ "$status" -eq 0 ]; then
        verdict=passed
        rm -f "$log"
    else
        verdict="FAILED (exit $status, see $log)"
        failed=$((failed + 1))
    fi
    echo "round $round/$rounds: $verdict in $(( $(date +%s) - started )) s: ${summary}"
done
echo "$((rounds - failed)) of $rounds rounds passed (filter '$filter', skip '$skip', ${#hogs[@]} busy loops)"
[ "$failed" -eq 0 ]
