"""Points pyarrow.plasma at OUR store.

Imported as a pytest plugin (``-p our_store``, with this folder on PYTHONPATH) it replaces
``pyarrow.plasma.start_plasma_store`` so that Arrow's own ``pyarrow/tests/test_plasma.py`` (and our
interop tests) launch ``plasma-store`` from this repository instead of the wheel's
``plasma-store-server``. Arrow offers no switch for that: the path is hard-coded next to the module.

The replacement keeps Arrow's signature, flags (-s, -m, -d, -h, -e), DeprecationWarning, 0.1 s start
check and cleanup, so the tests see the same contract; only the executable differs.
"""
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import warnings

import pyarrow.plasma

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STORE_BIN = os.environ.get("PLASMA_STORE_BIN") or os.path.join(ROOT, ".build", "debug", "plasma-store")


def store_command(socket, memory, plasma_directory=None, use_hugepages=False, external_store=None):
    """Arrow's command line, with our binary."""
    command = [STORE_BIN, "-s", socket, "-m", str(memory)]
    if plasma_directory:
        command += ["-d", plasma_directory]
    if use_hugepages:
        command += ["-h"]
    if external_store is not None:
        command += ["-e", external_store]
    return command


@contextlib.contextmanager
def start_plasma_store(plasma_store_memory, use_valgrind=False, use_profiler=False,
                       plasma_directory=None, use_hugepages=False, external_store=None):
    """Drop-in for pyarrow.plasma.start_plasma_store (pyarrow 11) that runs our plasma-store."""
    warnings.warn(
        "Plasma is deprecated since Arrow 10.0.0. It will be removed in "
        "12.0.0 or so.",
        DeprecationWarning)
    if use_valgrind or use_profiler:
        raise Exception("valgrind/profiler runs are not supported for the Swift store")
    if not os.access(STORE_BIN, os.X_OK):
        raise RuntimeError("our plasma-store binary is missing: %s (build it with `swift build`, "
                           "or set PLASMA_STORE_BIN)" % STORE_BIN)
    tmpdir = tempfile.mkdtemp(prefix='test_plasma-')
    proc = None
    try:
        plasma_store_name = os.path.join(tmpdir, 'plasma.sock')
        command = store_command(plasma_store_name, plasma_store_memory, plasma_directory,
                                use_hugepages, external_store)
        stderr = open(os.path.join(tmpdir, "store.log"), "wb") if os.environ.get("PLASMA_STORE_QUIET") else None
        proc = subprocess.Popen(command, stdout=None, stderr=stderr)
        time.sleep(0.1)
        rc = proc.poll()
        if rc is not None:
            raise RuntimeError("plasma_store exited unexpectedly with code %d" % (rc,))
        yield plasma_store_name, proc
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmpdir)


pyarrow.plasma.start_plasma_store = start_plasma_store
