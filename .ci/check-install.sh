#!/usr/bin/env bash
# Issue #11: `make install PREFIX=...` installs the three programs and their man pages; then, with only
# PREFIX/bin on the PATH, every program answers --version, `man` finds each page, and the README's
# "From a terminal" block runs line by line, verbatim, against a store started from PREFIX/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
store_pid=""
cleanup() { [ -n "$store_pid" ] && kill "$store_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
prefix="$work/prefix"

make install PREFIX="$prefix" SWIFT_BUILD_FLAGS="${SWIFT_BUILD_FLAGS:-}" >"$work/install.log" 2>&1 || { tail -20 "$work/install.log"; exit 1; }
export PATH="$prefix/bin:$PATH" MANPATH="$prefix/share/man"
for program in plasma-store plasma plasma-bench; do
    [ "$(command -v "$program")" = "$prefix/bin/$program" ] || { echo "install: $program is not on PATH from $prefix/bin"; exit 1; }
    echo "install: $program --version: $("$program" --version)"
done
for page in plasma-store plasma plasma-bench plasma-protocol; do
    found="$(man -w "$page")"
    case "$found" in "$prefix"/*) ;; *) echo "install: man -w $page found '$found', not the installed page"; exit 1 ;; esac
    man -l "$found" >/dev/null 2>"$work/man.err"; [ ! -s "$work/man.err" ] || { cat "$work/man.err"; exit 1; }
    echo "install: man finds $found"
done

# The README's terminal session, verbatim, one line at a time (`plasma watch` runs until stopped).
export PLASMA_STORE_SOCKET="$work/plasma.sock"
plasma-store --memory 256M >"$work/store.log" 2>&1 &
store_pid=$!
for _ in $(seq 1 500); do [ -S "$PLASMA_STORE_SOCKET" ] && break; sleep 0.02; done
cd "$work" && head -c 1000000 /dev/urandom > data.bin
block="$(awk '/^## From a terminal/ {on=1} on && /^```sh/ {inside=1; next} inside && /^```/ {exit} inside' "$OLDPWD/README.md")"
[ -n "$block" ] || { echo "install: no From a terminal block in README.md"; exit 1; }
while IFS= read -r line; do
    command="${line%%#*}"
    [ -n "${command// /}" ] || continue
    if [[ "$command" == "plasma watch"* ]]; then
        status=0; timeout 2 bash -c "$command" >/dev/null || status=$?
        [ "$status" -eq 124 ] || { echo "install: '$command' exited $status, expected to run until stopped"; exit 1; }
    else
        eval "$command" >/dev/null || { echo "install: README line failed: $line"; exit 1; }
    fi
    echo "install: ok: $command"
done <<< "$block"
cmp data.bin copy.bin && echo "install: plasma get wrote back the bytes plasma put stored"
