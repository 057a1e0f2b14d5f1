"""Starts the real plasma-store for each test: PLASMA_STORE_BIN, else the debug or release build."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def store_binary() -> str:
    explicit = os.environ.get("PLASMA_STORE_BIN")
    if explicit:
        return explicit
    for build in ("debug", "release"):
        candidate = ROOT / ".build" / build / "plasma-store"
        if candidate.exists():
            return str(candidate)
    raise RuntimeError("no plasma-store binary: build it with `swift build`, or set PLASMA_STORE_BIN")


class Store:
    """A running plasma-store on a private socket."""

    def __init__(self, directory: Path, memory: str, extra: list[str]) -> None:
        self.path = str(directory / "plasma.sock")
        self.log = directory / "store.log"
        self.process = subprocess.Popen([store_binary(), "--memory", memory, "--socket", self.path, *extra],
                                        stdout=subprocess.DEVNULL, stderr=self.log.open("wb"))
        self.wait_until_listening()

    def wait_until_listening(self) -> None:
        """Synchronises on the socket accepting connections (bounded), not on a sleep."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"plasma-store exited with {self.process.returncode}: {self.log.read_text()}")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(self.path)
                return
            except OSError:
                time.sleep(0.01)
            finally:
                probe.close()
        raise RuntimeError("plasma-store did not start listening within 30 s")

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_anon_kib(self) -> int:
        """The store's anonymous resident memory (its heap), in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
        raise RuntimeError("no RssAnon line")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    marker = request.node.get_closest_marker("store")
    memory = marker.kwargs.get("memory", "256M") if marker else "256M"
    extra = marker.kwargs.get("extra", []) if marker else []
    with tempfile.TemporaryDirectory(prefix="swiftplasma-test-") as directory:
        running = Store(Path(directory), memory, extra)
        try:
            yield running
        finally:
            running.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "store(memory, extra): options for the store fixture")


#: Figures tests report (per-connection byte counts, timings); printed in pytest's summary.
REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT:
        terminalreporter.section("swiftplasma figures")
        for line in REPORT:
            terminalreporter.write_line(line)
