"""Server processes on this machine: free loopback ports, finding binaries, stopping cleanly."""

import collections
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import BinaryIO

STOP_TIMEOUT_S = 30.0
HELD_LINES = 200


class StackError(RuntimeError):
    """A server could not start, or died; the message carries its log's tail."""


def free_port() -> int:
    """A loopback port nothing listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def find_binary(name: str, *, fallbacks: tuple[Path, ...] = ()) -> str:
    for candidate in fallbacks:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise StackError(f"{name} is not installed: run `make install`")
    return found


def log_tail(path: Path, lines: int = 30) -> str:
    if not path.is_file():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


def stop_process(
    proc: subprocess.Popen | None, sig: signal.Signals, *, timeout: float = STOP_TIMEOUT_S
) -> None:
    """Signals a server started in its own session and waits; if it lingers, kills the whole
    session (workers included)."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class StartOutput:
    """Relays a server's output (a pipe) to this terminal, except what it prints while it starts.

    Until `release()` the lines are held back (the last HELD_LINES: uWSGI's ~35-line banner, nginx's
    log of the readiness checks, a failed start's error): `held()` gives them for an error message,
    release() drops them and lets the rest through.
    """

    def __init__(self, proc: subprocess.Popen, sink: BinaryIO | None = None):
        self._proc = proc
        self._sink = sink or sys.stdout.buffer
        self._held: collections.deque[bytes] = collections.deque(maxlen=HELD_LINES)
        self._holding = True
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._relay, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _relay(self, stream: BinaryIO) -> None:
        with stream:
            for line in iter(stream.readline, b""):
                with self._lock:
                    if self._holding:
                        self._held.append(line)
                        continue
                self._sink.write(line)
                self._sink.flush()

    def release(self) -> None:
        with self._lock:
            self._holding = False
            self._held.clear()

    def held(self) -> str:
        """The lines held so far; once the server has exited, its last ones too."""
        if self._proc.poll() is not None:
            self._thread.join(timeout=2.0)
        with self._lock:
            return b"".join(self._held).decode("utf-8", errors="replace")

    def close(self, timeout: float = 5.0) -> None:
        """Waits for the server's last lines (its pipe closes when it and its workers exit)."""
        self._thread.join(timeout=timeout)
