"""Server processes on this machine: free loopback ports, finding binaries, stopping cleanly."""

import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

STOP_TIMEOUT_S = 30.0


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
