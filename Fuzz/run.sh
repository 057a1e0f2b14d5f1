#!/usr/bin/env bash
# Builds the libFuzzer harnesses in Fuzz/ and runs each for a while over its committed seed corpus.
#
#   Fuzz/run.sh [SECONDS]          build all harnesses, run each for SECONDS (default 60)
#   Fuzz/run.sh --build-only       build the harnesses, run nothing
#   Fuzz/run.sh --make-seeds       regenerate Fuzz/corpus/*/seed-* from real encoded frames (make-seeds.swift)
#
# Environment:
#   HARNESSES   which harnesses to build and run (default: "NativeDecoder ArrowDecoder EngineCommands")
#   FUZZ_ARGS   extra libFuzzer flags for every run, e.g. FUZZ_ARGS="-jobs=2 -workers=2"
#   SKIP_BUILD  1: use the binaries already in .build-fuzz/bin
#   FUZZ_JOBS   harnesses run at once (default: one per core)
#
# Exits non-zero when a harness crashes (or fails to build), after printing the crashing input's path.
#
# How the build works (see Fuzz/README.md):
# 1. SwiftPM builds the library target PlasmaStore and everything it depends on (PlasmaCore, PlasmaWire,
#    PlasmaPosix, CPlasma, swift-log, swift-collections, swift-system) into its own scratch path
#    .build-fuzz, Swift with `-sanitize=fuzzer,address` (for objects that is coverage instrumentation +
#    ASan, no libFuzzer main yet) and C with `-fsanitize=fuzzer-no-link,address`. Package.swift is not
#    touched; `--target` builds objects only, nothing is linked.
# 2. Each harness is compiled with `swiftc -sanitize=fuzzer,address -parse-as-library` against the
#    modules in .build-fuzz/debug/Modules and linked with the objects of the targets it needs (the object
#    list of a Swift target comes from its output-file-map.json, so objects of deleted sources are never
#    linked). libFuzzer supplies main(); the harness supplies LLVMFuzzerTestOneInput.
#    The decoders link PlasmaCore + PlasmaWire only; EngineCommands links every target step 1 built.
# The build is -Onone (debug): slower per execution than -O, but the standard library's debug
# preconditions (bounds of raw buffer reads) stay on, which is what turns an out-of-bounds read into a
# crash for the decoders.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
SCRATCH=$ROOT/.build-fuzz
OUT=$SCRATCH/bin
ARTIFACTS=$SCRATCH/artifacts
WORK_CORPUS=$SCRATCH/corpus
LOGS=$SCRATCH/logs
HARNESSES=${HARNESSES:-"NativeDecoder ArrowDecoder EngineCommands"}
FUZZ_ARGS=${FUZZ_ARGS:-}

MODE=run
SECONDS_EACH=60
case "${1:-}" in
  --build-only) MODE=build ;;
  --make-seeds) MODE=seeds ;;
  "") ;;
  *[!0-9]*) echo "usage: Fuzz/run.sh [SECONDS | --build-only | --make-seeds]" >&2; exit 2 ;;
  *) SECONDS_EACH=$1 ;;
esac

# The Swift runtime's crash backtracer (swift-backtrace) can hang on a process that ASan / libFuzzer
# is tearing down; libFuzzer prints its own stack, so switch it off.
export SWIFT_BACKTRACE=enable=no
# The linker's warnings about ASan's local symbols are noise.
LINK_FILTER='Cannot export local symbol'

mkdir -p "$OUT" "$ARTIFACTS" "$WORK_CORPUS" "$LOGS"

build_libraries() {
  echo "== building library targets (instrumented) into $SCRATCH"
  swift build --scratch-path "$SCRATCH" --target PlasmaStore \
    -Xswiftc -sanitize=fuzzer,address \
    -Xcc -fsanitize=fuzzer-no-link,address
}

BIN=""
# Objects of one target: a Swift target's from its output-file-map.json, a C target's *.o.
target_objects() {
  local dir=$BIN/$1.build
  if [[ -f $dir/output-file-map.json ]]; then
    grep -o '"object": *"[^"]*"' "$dir/output-file-map.json" | sed 's/.*"object": *"\(.*\)"/\1/'
  else
    ls "$dir"/*.o
  fi
}

# Every target the library build produced: those whose objects all exist.
built_targets() {
  local dir name objects missing
  for dir in "$BIN"/*.build; do
    name=$(basename "$dir" .build)
    objects=$(target_objects "$name" 2>/dev/null) || continue
    [[ -n $objects ]] || continue
    missing=0
    while read -r object; do [[ -f $object ]] || missing=1; done <<<"$objects"
    if [[ $missing == 0 ]]; then echo "$name"; fi
  done
}

# Clang module maps the imported Swift modules need (CPlasma, CSystem), as SwiftPM passes them.
clang_module_flags() {
  local map
  for map in "$BIN"/*.build/module.modulemap "$SCRATCH"/checkouts/*/Sources/*/include/module.modulemap; do
    [[ -f $map ]] && printf -- '-Xcc\n-fmodule-map-file=%s\n' "$map"
  done
  printf -- '-Xcc\n-I\n-Xcc\n%s\n' "$ROOT/Sources/CPlasma/include"
}

# build_tool NAME SOURCE OUTPUT SANITIZE TARGETS...
build_tool() {
  local name=$1 source=$2 output=$3 sanitize=$4
  shift 4
  local objects=() target
  for target in "$@"; do
    while read -r object; do objects+=("$object"); done < <(target_objects "$target")
  done
  local flags=()
  while read -r flag; do flags+=("$flag"); done < <(clang_module_flags)
  echo "== compiling $name with the objects of: $*"
  swiftc -sanitize="$sanitize" -parse-as-library -Onone -g -swift-version 5 \
    -module-name "$name" -module-cache-path "$SCRATCH/ModuleCache" \
    -I "$BIN/Modules" "${flags[@]}" \
    "$source" "${objects[@]}" -o "$output" 2>&1 | { grep -v "$LINK_FILTER" || true; }
  [[ -x $output && $output -nt $source ]] || { echo "error: building $name failed" >&2; return 1; }
}

build_harnesses() {
  local harness targets
  for harness in $HARNESSES; do
    case $harness in
      NativeDecoder|ArrowDecoder) targets="PlasmaCore PlasmaWire" ;;
      EngineCommands) targets=$(built_targets | tr '\n' ' ') ;;
      *) echo "unknown harness $harness" >&2; return 2 ;;
    esac
    rm -f "$OUT/$harness"
    build_tool "$harness" "Fuzz/$harness/main.swift" "$OUT/$harness" fuzzer,address $targets
  done
}

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  build_libraries
  BIN=$(swift build --scratch-path "$SCRATCH" --show-bin-path)
  if [[ $MODE == seeds ]]; then
    # A plain program (own main), so libFuzzer's runtime without its main: fuzzer_no_main.
    NO_MAIN=$(clang -print-resource-dir)/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a
    rm -f "$OUT/make-seeds"
    # make-seeds.swift is top-level code: no -parse-as-library (build_tool adds it), so compile here.
    objects=()
    for target in PlasmaCore PlasmaWire; do
      while read -r object; do objects+=("$object"); done < <(target_objects "$target")
    done
    swiftc -sanitize=address -Onone -g -module-name make_seeds -module-cache-path "$SCRATCH/ModuleCache" \
      -I "$BIN/Modules" Fuzz/make-seeds.swift "${objects[@]}" -Xlinker "$NO_MAIN" -lstdc++ \
      -o "$OUT/make-seeds" 2>&1 | { grep -v "$LINK_FILTER" || true; }
    ASAN_OPTIONS=detect_leaks=0 "$OUT/make-seeds" "$ROOT/Fuzz/corpus"
    exit 0
  fi
  build_harnesses
fi
[[ $MODE == build ]] && { echo "built: $(cd "$OUT" && ls | tr '\n' ' ')"; exit 0; }

# fuzz_one HARNESS: runs it for SECONDS_EACH, prints its line, and leaves the line in $LOGS/HARNESS.line;
# its exit status says whether it found a crash.
fuzz_one() {
  local harness=$1
  local seeds=$ROOT/Fuzz/corpus/$harness work=$WORK_CORPUS/$harness log=$LOGS/$harness.log
  mkdir -p "$work"
  # Engine programs: 1 KiB is 200-300 commands, plenty to reach deep states, and keeps exec/s up.
  local per_harness=""
  [[ $harness == EngineCommands ]] && per_harness="-max_len=1024"
  echo "== fuzzing $harness for ${SECONDS_EACH}s (seeds: $seeds, new entries: $work, log: $log)"
  local rc=0
  # New inputs go to the first corpus directory (scratch); the committed seeds are only read.
  # shellcheck disable=SC2086
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=0} \
    "$OUT/$harness" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$ARTIFACTS/$harness-" $per_harness $FUZZ_ARGS "$work" "$seeds" >"$log" 2>&1 || rc=$?
  local executions speed corpus crash line
  executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n1)
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n1)
  corpus=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -n1 | sed 's/corp: //')
  line="$harness: exit $rc, ${executions:-?} executions, ${speed:-?} exec/s, corpus ${corpus:-?} (entries/bytes)"
  if [[ $rc != 0 ]]; then
    crash=$(grep -o "Test unit written to .*" "$log" | sed 's/Test unit written to //' | tail -n1)
    line="$line, CRASH: ${crash:-no artifact written}"
    echo "---- $harness failed; the end of its log:"
    grep -v "^#[0-9]" "$log" | tail -n 40
  fi
  echo "$line" | tee "$LOGS/$harness.line"
  return $(( rc != 0 ))
}

# The harnesses run FUZZ_JOBS at a time (default: one per core), each libFuzzer process on one core, so
# that each still fuzzes for SECONDS_EACH on a core of its own while the step takes less wall time.
jobs_at_once=${FUZZ_JOBS:-$(nproc)}
status=0
running=()
for harness in $HARNESSES; do
  rm -f "$LOGS/$harness.line"
  if (( ${#running[@]} >= jobs_at_once )); then
    wait "${running[0]}" || status=1
    running=("${running[@]:1}")
  fi
  fuzz_one "$harness" &
  running+=($!)
done
for pid in "${running[@]}"; do wait "$pid" || status=1; done
summary=()
for harness in $HARNESSES; do
  summary+=("$(cat "$LOGS/$harness.line" 2>/dev/null || echo "$harness: no result")")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
