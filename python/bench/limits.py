"""The machine's limits, sampled beside each repetition by limits_peer (a small C program run.sh
builds; its path in $PLASMA_LIMITS_PEER). Python 3.11 compatible.

Kinds: ``copy N`` / ``read N`` (GB/s into / out of populated shared memory), ``rtt-poll`` and
``rtt-sleep`` (p50 us of a 32-byte Unix-socket round trip between two processes, spinning or sleeping).
A rate row is set against ``1e6 / rtt-poll`` ops/s; a latency row against ``rtt-sleep``.
"""

from __future__ import annotations

import os
import subprocess

LARGE = 64 << 20


class Limits:
    """One limits_peer process for the life of a driver."""

    def __init__(self) -> None:
        self._peer = subprocess.Popen([os.environ["PLASMA_LIMITS_PEER"]], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)

    def sample(self, kind: str) -> float:
        """One sample, in the row's unit: GB/s for copy/read, ops/s for rtt-poll, us for rtt-sleep."""
        assert self._peer.stdin is not None and self._peer.stdout is not None
        self._peer.stdin.write(kind + "\n")
        self._peer.stdin.flush()
        value = float(self._peer.stdout.readline())
        if value <= 0:
            raise RuntimeError(f"limits_peer could not measure {kind!r}")
        return 1e6 / value if kind == "rtt-poll" else value

    def close(self) -> None:
        if self._peer.stdin is not None:
            self._peer.stdin.close()
        self._peer.wait()
