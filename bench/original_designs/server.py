"""Runs one original design under real uWSGI on a free loopback port, and stops it cleanly."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from stack import REPO_ROOT, free_port, stop_process


def uwsgi_command(module: str, port: int, *, processes: int) -> list[str]:
    # Workers speak HTTP themselves (no router process); one request at a time per worker, as
    # gpt-2-simple's session and default graph are not safe to share between threads.
    return [
        str(Path(sys.executable).with_name("uwsgi")),
        *("--http-socket", f"127.0.0.1:{port}"),
        *("--module", f"{module}:app"),
        *("--processes", str(processes)),
        *("--home", sys.prefix),
        *("--chdir", str(REPO_ROOT)),
        "--master",
        "--lazy-apps",  # each worker loads TensorFlow after the fork, never before
        "--need-app",
        "--die-on-term",
        "--disable-logging",
    ]


def wait_ready(process: subprocess.Popen, port: int, *, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text()[-2000:]
            raise RuntimeError(f"uWSGI exited with {process.returncode}:\n{tail}")
        url = f"http://127.0.0.1:{port}/healthz"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as answer:
            if answer.status == 200:
                return
        time.sleep(0.2)  # polling another process's start: there is no event to await
    raise RuntimeError(f"uWSGI not ready in {timeout_s} s:\n{log.read_text()[-2000:]}")


@contextlib.contextmanager
def uwsgi_server(module: str, *, base_dir: Path, processes: int, log: Path, ready_s: float = 300):
    """Yields (port, master pid) of a ready server for `module` serving the model at base_dir."""
    port = free_port()
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "GHOST_BENCH_MODELS_DIR": str(base_dir.parent),
        "GHOST_BENCH_MODEL": base_dir.name,
    }
    with log.open("w") as output:
        process = subprocess.Popen(
            uwsgi_command(module, port, processes=processes),
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own session, so a lingering stop reaches every worker
        )
    try:
        wait_ready(process, port, timeout_s=ready_s, log=log)
        yield port, process.pid
    finally:
        # SIGTERM: the master exits and takes its workers along (--die-on-term).
        stop_process(process, signal.SIGTERM, timeout=15)
