#!/usr/bin/env bash
# Regenerates the README's performance table from ONE plasma-bench run: every workload (and --clients
# 1,2,4 for the small ones), the machine's limits at its start and end, and Arrow's store side by side
# when pyarrow 11's plasma-store-server is found (Tests/arrow-interop/setup.sh installs it into
# .venv-arrow). Saves the raw JSON as Benchmarks/results-DATE.json and the table into README.md.
#
# Usage: Benchmarks/readme-table.sh [plasma-bench options]   e.g. --repetitions 7
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product plasma-bench >&2
swift build -c release --product plasma-store >&2
arrow=(.venv-arrow/lib/python3*/site-packages/pyarrow/plasma-store-server)
compare=()
[ -x "${arrow[0]}" ] && compare=(--compare-arrow "${arrow[0]}")
out="Benchmarks/results-$(date +%Y-%m-%d).json"
.build/release/plasma-bench --json --clients 1,2,4 "${compare[@]}" "$@" > "$out"
python3 Benchmarks/readme-table.py "$out" README.md
echo "README.md table rewritten from $out ($(git rev-parse --short HEAD 2>/dev/null || echo 'no git'), $(date -u +%Y-%m-%dT%H:%MZ))" >&2
