#!/usr/bin/env bash
# The machine's own limits, to print beside a figure measured in the same run (these VMs vary by 2x from
# day to day): memcpy of 64 MiB into already-populated memfd pages (what put-large copies into), and a
# 32-byte Unix-socket ping-pong round trip between two processes (what a small request costs at best).
# Builds Benchmarks/limits/limits.c with the system C compiler into a temporary directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
${CC:-cc} -O2 -o "$work/limits" "$here/limits/limits.c"
"$work/limits"
