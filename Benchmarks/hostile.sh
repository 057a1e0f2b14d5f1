#!/usr/bin/env bash
# The hostile workload (issue #13's target): builds release and runs `plasma-bench hostile` for SECONDS
# (default 30) against a store of its own; further arguments go to plasma-bench (e.g.
# --hostile-connections 24, --attacks partial-frames,waiting-gets, --json).
# Exit status: plasma-bench's (0 PASS; 3 FAIL: a target missed; anything else: CRASH or an error), except
# that a FAIL is binding only with --enforce (or PLASMA_HOSTILE_ENFORCE=1): without it, the verdict is
# printed and a FAIL exits 0, so that CI fails on crashes only until the client-state budget has landed.
# HOSTILE_SCRATCH_PATH picks the build directory (default .build).
set -euo pipefail
cd "$(dirname "$0")/.."
enforce=${PLASMA_HOSTILE_ENFORCE:-0}
seconds=30
arguments=()
for argument in "$@"; do
    case "$argument" in
        --enforce) enforce=1 ;;
        *) arguments+=("$argument") ;;
    esac
done
if [ ${#arguments[@]} -gt 0 ] && [[ "${arguments[0]}" =~ ^[0-9]+$ ]]; then
    seconds=${arguments[0]}
    arguments=("${arguments[@]:1}")
fi
scratch=${HOSTILE_SCRATCH_PATH:-.build}
# Build output to stderr: stdout is the benchmark's (a table, or JSON with --json).
swift build -c release --scratch-path "$scratch" ${SWIFT_BUILD_FLAGS:-} --product plasma-store >&2
swift build -c release --scratch-path "$scratch" ${SWIFT_BUILD_FLAGS:-} --product plasma-bench >&2
status=0
"$scratch/release/plasma-bench" hostile --duration "$seconds" ${arguments[@]+"${arguments[@]}"} || status=$?
if [ "$status" -eq 3 ] && [ "$enforce" != 1 ]; then
    echo "hostile: a target was missed (FAIL above), but the targets are not binding: pass --enforce or set PLASMA_HOSTILE_ENFORCE=1" >&2
    exit 0
fi
exit "$status"
