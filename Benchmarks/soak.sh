#!/usr/bin/env bash
# The soak (issue #7, "Load"): builds release and runs `plasma-bench soak` for SECONDS (default 600)
# with 32 client processes against a store of its own; further arguments go to plasma-bench
# (e.g. --clients 8, --seed 2, --json). Exit status: plasma-bench's, non-zero when the soak failed.
# SOAK_SCRATCH_PATH picks the build directory (default .build).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
[ $# -gt 0 ] && shift
scratch=${SOAK_SCRATCH_PATH:-.build}
swift build -c release --scratch-path "$scratch" ${SWIFT_BUILD_FLAGS:-} --product plasma-store
swift build -c release --scratch-path "$scratch" ${SWIFT_BUILD_FLAGS:-} --product plasma-bench
exec "$scratch/release/plasma-bench" soak --duration "$seconds" "$@"
