#!/usr/bin/env bash
# Interop with the real pyarrow 11: unmodified pyarrow.plasma (Python) and libplasma (C++) clients
# against OUR plasma-store. Runs
#   1. test_interop.py (our tests: Python client, the C++ client below, cross-dialect with `plasma`),
#      test_fault_matrix.py (issue #7's fault matrix for the Arrow dialect: pyarrow clients SIGKILLed) and
#      test_dropin_fidelity.py (pyarrow programs run against both Arrow's store and ours);
#   2. Arrow's own pyarrow/tests/test_plasma.py from the wheel, its store starter pointed at our binary.
# Exits non-zero if anything fails, or if pyarrow 11 is missing and can't be installed (never skips).
#
# Environment: PLASMA_STORE_BIN / PLASMA_CLI_BIN (default: built here with `swift build` into
# SWIFT_SCRATCH_PATH, default .build), PYTEST_ARGS (extra pytest arguments).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/Tests/arrow-interop"
cd "$root"
python="$root/.venv-arrow/bin/python"

if ! "$python" -c 'import pyarrow, pyarrow.plasma, pytest, hypothesis; assert pyarrow.__version__ == "11.0.0"' 2>/dev/null; then
    if ! bash "$here/setup.sh" >"$root/.venv-arrow-setup.log" 2>&1; then
        echo "arrow-interop: pyarrow 11 is missing and could not be installed; install it with: bash Tests/arrow-interop/setup.sh (python3 -m venv .venv-arrow && .venv-arrow/bin/pip install pyarrow==11.0.0 'numpy<2' 'pytest<8' hypothesis; log: .venv-arrow-setup.log)" >&2
        exit 1
    fi
fi

scratch="${SWIFT_SCRATCH_PATH:-$root/.build}"
if [ -z "${PLASMA_STORE_BIN:-}" ] || [ -z "${PLASMA_CLI_BIN:-}" ]; then
    swift build --scratch-path "$scratch" --product plasma-store >/dev/null
    swift build --scratch-path "$scratch" --product plasma >/dev/null
    bin="$(swift build --scratch-path "$scratch" --show-bin-path)"
    export PLASMA_STORE_BIN="${PLASMA_STORE_BIN:-$bin/plasma-store}"
    export PLASMA_CLI_BIN="${PLASMA_CLI_BIN:-$bin/plasma}"
fi

# The C++ client, against the wheel's libplasma.so.1100 / libarrow.so.1100 and headers. The wheel is
# built with the pre-C++11 libstdc++ string ABI, so the client must be too.
pyarrow_dir="$("$python" -c 'import os, pyarrow; print(os.path.dirname(pyarrow.__file__))')"
export CPP_CLIENT_BIN="$scratch/arrow-interop/cpp_client"
mkdir -p "$(dirname "$CPP_CLIENT_BIN")"
g++ -std=c++17 -O1 -D_GLIBCXX_USE_CXX11_ABI=0 -Wno-cpp "$here/cpp_client.cc" \
    -I"$("$python" -c 'import pyarrow; print(pyarrow.get_include())')" \
    -L"$pyarrow_dir" -l:libplasma.so.1100 -l:libarrow.so.1100 -Wl,-rpath,"$pyarrow_dir" -o "$CPP_CLIENT_BIN"

export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
export PLASMA_STORE_QUIET=1  # the store's log goes to a file in each test's temporary directory
status=0
echo "== arrow-interop: our tests (test_interop.py, test_fault_matrix.py, test_dropin_fidelity.py) against $PLASMA_STORE_BIN"
"$python" -m pytest -p no:cacheprovider -c "$here/pytest.ini" ${PYTEST_ARGS:-} "$here/test_interop.py" "$here/test_fault_matrix.py" \
    "$here/test_dropin_fidelity.py" || status=1
echo "== arrow-interop: Arrow's own pyarrow/tests/test_plasma.py against $PLASMA_STORE_BIN"
"$python" -m pytest -p no:cacheprovider -p our_store ${PYTEST_ARGS:-} "$pyarrow_dir/tests/test_plasma.py" || status=1
exit $status
