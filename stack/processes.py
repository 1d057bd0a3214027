"""Server processes on this machine: free loopback ports, finding binaries, stopping cleanly."""

import collections
import os
import secrets
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
    """Relays a server's output to this terminal, except what it printed while it started.

    The server writes into a pipe whose write end this object keeps too. The start output ends at
    the first line that holds `marker`: release() writes one into the pipe, so all that the server
    printed before (uWSGI's ~35-line banner, nginx's log of the readiness checks) comes ahead of
    it, however late the relay reads it. Until then the last HELD_LINES are kept: `held()` gives
    them for an error message.
    """

    def __init__(self, sink: BinaryIO | None = None):
        self.marker = f"ghostwriter-start-output-ends-{secrets.token_hex(8)}"
        read_end, self.write_end = os.pipe()
        self._proc: subprocess.Popen | None = None
        self._sink = sink or sys.stdout.buffer
        self._held: collections.deque[bytes] = collections.deque(maxlen=HELD_LINES)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._relay, args=(read_end,), daemon=True)
        self._thread.start()

    def attach(self, proc: subprocess.Popen) -> None:
        """The server started with stdout=self.write_end."""
        self._proc = proc

    def _relay(self, read_end: int) -> None:
        holding, marker = True, self.marker.encode()
        with open(read_end, "rb") as stream:
            for line in iter(stream.readline, b""):
                if holding:
                    holding = marker not in line
                    if holding:
                        with self._lock:
                            self._held.append(line)
                    continue
                self._sink.write(line)
                self._sink.flush()

    def release(self) -> None:
        """Ends the start output at this point of the pipe."""
        os.write(self.write_end, self.marker.encode() + b"\n")
        self.stop_writing()

    def stop_writing(self) -> None:
        """Once only this object's end is closed, the pipe ends when the server exits."""
        with self._lock:
            if self.write_end >= 0:
                os.close(self.write_end)
                self.write_end = -1

    def held(self) -> str:
        """The lines held so far; once the server has exited, its last ones too."""
        if self._proc is not None and self._proc.poll() is not None:
            self.stop_writing()
            self._thread.join(timeout=2.0)
        with self._lock:
            return b"".join(self._held).decode("utf-8", errors="replace")

    def close(self, timeout: float = 5.0) -> None:
        """Waits for the server's last lines (its pipe closes when it and its workers exit)."""
        self.stop_writing()
        self._thread.join(timeout=timeout)
