#!/usr/bin/env bash
# Issue #11: the library's documentation. Fails when a public symbol of PlasmaClient or PlasmaCore (which
# PlasmaClient re-exports) has no /// doc comment, or when the DocC documentation doesn't build cleanly.
# Both checks run and report before the script fails.
set -uo pipefail
cd "$(dirname "$0")/.."
failed=0

# (a) Undocumented public symbols. --skip-inherited-docs: a member that only inherits a protocol's
# comment (`description`, `<`) has none of its own and must be listed.
echo "check-docs: public symbols without a doc comment"
if swift package dump-symbol-graph --minimum-access-level public --skip-inherited-docs >.build/symbolgraph.log 2>&1; then
    graphs="$(sed -n 's/^.*Files written to //p' .build/symbolgraph.log | tail -1)"
    python3 .ci/undocumented-symbols.py "$graphs" PlasmaClient PlasmaCore PlasmaEtcd PlasmaClusterCore PlasmaTransfer || failed=1
else
    tail -30 .build/symbolgraph.log
    failed=1
fi

# (b) DocC: PlasmaClient's catalog (Sources/PlasmaClient/PlasmaClient.docc) and PlasmaCore's reference,
# warnings as errors: a broken symbol link, a malformed article or a doc comment whose parameter list
# doesn't match the declaration fails here.
echo "check-docs: DocC build (swift package generate-documentation, warnings as errors)"
swift package generate-documentation --target PlasmaClient --target PlasmaCore --warnings-as-errors \
    >.build/docc.log 2>&1 || failed=1
grep -A2 -E '^(warning|error): ' .build/docc.log | grep -v -E '^ *[0-9]+ [|+]' || true
if [ "$failed" = 0 ]; then echo "check-docs: passed"; else echo "check-docs: FAILED"; fi
exit "$failed"
