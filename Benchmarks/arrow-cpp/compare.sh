#!/usr/bin/env bash
# Arrow's own C++ client (libplasma 11, from the pyarrow 11 wheel) against Arrow's plasma-store-server
# and against our plasma-store, side by side in one run: for each workload a warm-up against each store,
# then REPETITIONS runs alternating ours / Arrow's, medians and their ratio. The client is the one Arrow
# users run (it blocks in recvmsg for each reply and computes no digest for Create/Seal here).
#
#   Benchmarks/arrow-cpp/compare.sh [REPETITIONS]      (default 5)
#
# Sets up pyarrow 11 in .venv-arrow/ (Tests/arrow-interop/setup.sh) and builds our store in release mode
# (SWIFT_SCRATCH_PATH, default .build). Both stores get 4 GiB.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
repetitions=${1:-5}
python="$root/.venv-arrow/bin/python"
"$python" -c 'import pyarrow.plasma' 2>/dev/null || bash Tests/arrow-interop/setup.sh >/dev/null
pyarrow_dir="$("$python" -c 'import os, pyarrow; print(os.path.dirname(pyarrow.__file__))')"
scratch="${SWIFT_SCRATCH_PATH:-$root/.build}"
swift build -c release --scratch-path "$scratch" --product plasma-store >/dev/null
ours_bin="$scratch/release/plasma-store"
bench="$scratch/arrow-cpp/cpp_bench"
mkdir -p "$(dirname "$bench")"
# The wheel is built with the pre-C++11 libstdc++ string ABI, so the client must be too.
g++ -std=c++17 -O2 -D_GLIBCXX_USE_CXX11_ABI=0 -Wno-cpp "$root/Benchmarks/arrow-cpp/cpp_bench.cc" \
    -I"$("$python" -c 'import pyarrow; print(pyarrow.get_include())')" \
    -L"$pyarrow_dir" -l:libplasma.so.1100 -l:libarrow.so.1100 -Wl,-rpath,"$pyarrow_dir" -o "$bench"

ours_socket=/tmp/plasma-cpp-ours-$$.sock
arrow_socket=/tmp/plasma-cpp-arrow-$$.sock
"$ours_bin" --memory 4G --socket "$ours_socket" --log-level warning &
ours_pid=$!
"$pyarrow_dir/plasma-store-server" -m 4294967296 -s "$arrow_socket" >/dev/null 2>&1 &
arrow_pid=$!
trap 'kill $ours_pid $arrow_pid 2>/dev/null; wait 2>/dev/null; rm -f "$ours_socket" "$arrow_socket"' EXIT
for socket in "$ours_socket" "$arrow_socket"; do
    for _ in $(seq 600); do [ -S "$socket" ] && break; sleep 0.1; done
done
sleep 0.5

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%Y-%m-%dT%H:%MZ)"
echo "client: Arrow's C++ PlasmaClient (libplasma 11, pyarrow 11.0.0 wheel), one process, sequential"
printf "%-18s %-16s %-16s %-10s %s\n" workload ours "Arrow 11" ours/Arrow unit
for spec in put-small:20000:ops/s put-small-inline:20000:ops/s put-batch:20:objects/s \
            get-small:20000:ops/s put-large:20:GB/s get-large:20:GB/s; do
    IFS=: read -r workload count unit <<<"$spec"
    echo "running $workload…" >&2
    warm=$(( (count + 3) / 4 ))
    "$bench" "$ours_socket" "$workload" "$warm" >/dev/null
    "$bench" "$arrow_socket" "$workload" "$warm" >/dev/null
    ours_rates=(); arrow_rates=()
    for _ in $(seq "$repetitions"); do
        ours_rates+=("$("$bench" "$ours_socket" "$workload" "$count")")
        arrow_rates+=("$("$bench" "$arrow_socket" "$workload" "$count")")
    done
    ours=$(printf '%s\n' "${ours_rates[@]}" | median)
    arrow=$(printf '%s\n' "${arrow_rates[@]}" | median)
    if [ "$unit" = GB/s ]; then fmt="%.2f"; else fmt="%.0f"; fi
    printf "%-18s %-16s %-16s %-10s %s\n" "$workload" "$(printf "$fmt" "$ours")" "$(printf "$fmt" "$arrow")" \
        "$(awk -v a="$ours" -v b="$arrow" 'BEGIN { printf "%.2fx", a / b }')" "$unit"
done
