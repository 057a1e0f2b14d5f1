#!/usr/bin/env bash
# Issue #11: the library's documentation. Fails when a public symbol of PlasmaClient or PlasmaCore (which
# PlasmaClient re-exports) has no /// doc comment, or when the DocC catalog doesn't build cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

# (a) Undocumented public symbols. --skip-inherited-docs: a member that only inherits a protocol's
# comment (`description`, `<`) has none of its own and must be listed.
swift package dump-symbol-graph --minimum-access-level public --skip-inherited-docs >.build/symbolgraph.log 2>&1 \
    || { tail -30 .build/symbolgraph.log; exit 1; }
graphs="$(sed -n 's/^.*Files written to //p' .build/symbolgraph.log | tail -1)"
[ -d "$graphs" ] || { echo "check-docs: no symbol graph directory in:"; tail -5 .build/symbolgraph.log; exit 1; }
python3 .ci/undocumented-symbols.py "$graphs" PlasmaClient PlasmaCore

# (b) The DocC catalog (Sources/PlasmaClient/PlasmaClient.docc) with the API, warnings as errors: a
# broken symbol link or a malformed article fails here.
swift package generate-documentation --target PlasmaClient --warnings-as-errors
