#!/usr/bin/env bash
# Issue #14: the systemd units in dist/systemd are checked by `systemd-analyze verify` (Debian's systemd
# package), which exits 0 on unknown keys or values it ignores, so any line it prints fails the check.
# Then the real activation tool, systemd-socket-activate, starts the store on a socket it bound, and
# `plasma stats` must get an answer through it. Usage: .ci/check-units.sh [BIN_DIR]  (default: debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-$(swift build --show-bin-path)}"
work="$(mktemp -d)"
activator_pid=""
cleanup() { [ -n "$activator_pid" ] && kill "$activator_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# ExecStart= must name an executable that exists: point it at the build's.
cp dist/systemd/plasma-store.service dist/systemd/plasma-store.socket "$work/"
sed -i "s|^ExecStart=/usr/local/bin/plasma-store|ExecStart=$bin/plasma-store|" "$work/plasma-store.service"
grep -q "^ExecStart=$bin/plasma-store " "$work/plasma-store.service" || { echo "units: ExecStart= not found"; exit 1; }
# --man=no: the man pages are not installed here (check-install.sh checks them).
output="$(systemd-analyze verify --man=no "$work/plasma-store.service" "$work/plasma-store.socket" 2>&1)" \
    || { echo "$output"; echo "units: systemd-analyze verify failed"; exit 1; }
[ -z "$output" ] || { echo "$output"; echo "units: systemd-analyze verify complained"; exit 1; }
echo "units: systemd-analyze verify: clean"

socket="$work/plasma.sock"
systemd-socket-activate -l "$socket" "$bin/plasma-store" --memory 64M >"$work/store.log" 2>&1 &
activator_pid=$!
for _ in $(seq 1 500); do [ -S "$socket" ] && break; sleep 0.02; done
stats="$("$bin/plasma" --socket "$socket" stats --json)" || { cat "$work/store.log"; exit 1; }
grep -q '"capacity": *67108864' <<<"$stats" || { echo "$stats"; cat "$work/store.log"; echo "units: no answer through systemd-socket-activate"; exit 1; }
grep -q "socket $socket" "$work/store.log" || { cat "$work/store.log"; exit 1; }
echo "units: systemd-socket-activate: the store answered on the socket it was passed"
