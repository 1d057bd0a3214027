"""`python -m stack` (what `make serve` runs): foreground, URL printed, Ctrl-C stops."""

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading

import psutil
import pytest
import requests

from stack import REPO_ROOT, NativeStack, StackError, free_port
from tests.fixtures.stack import make_stack


def run_cli(*args: str, env=None, **options) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stack", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        text=True,
        **options,
    )


def lines_of(stream) -> queue.Queue:
    """The stream's lines, read by a thread so that waiting for one can time out."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


def wait_for_line(lines: queue.Queue, text: str, timeout: float) -> str:
    while True:
        line = lines.get(timeout=timeout)
        if text in line:
            return line


def stop_all(runner: subprocess.Popen, servers: list[psutil.Process]) -> None:
    """After a failed check: the runner stops its servers on SIGTERM; whatever is left is killed
    (they run in their own sessions, so killing only the runner would orphan them)."""
    if runner.poll() is None:
        runner.terminate()
        try:
            runner.wait(timeout=60)
        except subprocess.TimeoutExpired:
            runner.kill()
    for server in servers:
        with contextlib.suppress(psutil.NoSuchProcess):
            server.kill()


@pytest.mark.timeout(120)
def test_serves_the_named_models_in_the_foreground_and_ctrl_c_stops_both_servers(
    tiny_serving_model, tiny_serving_model_int8, tmp_path
):
    serving = tmp_path / "serving"  # as data/serving/: more models than the ones named
    serving.mkdir()
    for name, model in [("alpha", tiny_serving_model), ("beta", tiny_serving_model_int8)]:
        (serving / name).symlink_to(model.path)
    (serving / "gamma").symlink_to(tiny_serving_model.path)
    port = free_port()
    # Two worker processes through the ini's environment override, as on a bigger machine.
    env = {"GHOST_UWSGI_PROCESSES": "2", "GHOST_UWSGI_THREADS": "4", "GHOST_INTRA_THREADS": "1"}
    with (tmp_path / "stderr.log").open("w") as stderr:
        runner = run_cli(
            "--model", str(serving / "beta"), "--model", str(serving / "alpha"),
            "--port", str(port), env=env, stdout=subprocess.PIPE, stderr=stderr,
        )  # fmt: skip
        servers: list[psutil.Process] = []
        try:
            line = wait_for_line(lines_of(runner.stdout), "Serving", timeout=90)
            assert f"http://127.0.0.1:{port}/" in line
            servers = psutil.Process(runner.pid).children(recursive=True)
            # The runner printed its line once /readyz said 200 (from one of the two workers).
            assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
            listed = requests.get(f"http://127.0.0.1:{port}/models", timeout=10).json()
            assert [model["name"] for model in listed["models"]] == ["alpha", "beta"]
            assert listed["default"] == "beta"
            names = [" ".join(server.cmdline()) for server in servers]
            assert sum("uWSGI worker" in name for name in names) == 2, names
            assert any("nginx: master" in name for name in names), names

            runner.send_signal(signal.SIGINT)  # what Ctrl-C sends
            assert runner.wait(timeout=60) == 0
        finally:
            stop_all(runner, servers)
    _, alive = psutil.wait_procs(servers, timeout=5)
    assert alive == [], [server.pid for server in alive]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)


def test_a_folder_that_is_no_exported_model_is_refused_in_one_line(tmp_path):
    runner = run_cli("--model", str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = runner.communicate(timeout=30)
    assert runner.returncode == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and "model export" in err, err


def test_two_models_of_one_name_are_refused_in_one_line(tiny_serving_model, tmp_path):
    (tmp_path / "tiny").symlink_to(tiny_serving_model.path)
    runner = run_cli(
        "--model", str(tiny_serving_model.path), "--model", str(tmp_path / "tiny"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = runner.communicate(timeout=30)
    assert runner.returncode == 2
    assert err.count("\n") == 1 and "two models share a name" in err, err


def test_a_port_taken_meanwhile_is_replaced_and_a_chosen_busy_port_is_an_error(
    tiny_serving_model,
):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        # The race free_port() leaves open: the port it picked is bound by someone else first.
        stack = make_stack(tiny_serving_model)
        stack.port = busy
        with stack:
            assert stack.port != busy
            assert requests.get(stack.url + "/readyz", timeout=10).status_code == 200

        chosen = NativeStack(models_dir=tiny_serving_model.models_dir, port=busy)
        with pytest.raises(StackError, match="Address already in use"):
            chosen.start()
        assert chosen.nginx.poll() is not None and chosen.uwsgi.poll() is not None


# Lines of uWSGI's start-up banner, printed whatever the configuration.
BANNER = ("*** Starting uWSGI", "detected number of CPU cores", "your memory page size")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("flags", [[], ["-v"]], ids=["default", "verbose"])
def test_uwsgi_start_banner_is_printed_only_with_v(tiny_serving_model, flags):
    runner = run_cli(
        "--model", str(tiny_serving_model.path), "--port", str(free_port()), *flags,
        env={"GHOST_UWSGI_THREADS": "4"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    servers: list[psutil.Process] = []
    try:
        lines, before, after = lines_of(runner.stdout), [], []
        while "Serving" not in (line := lines.get(timeout=90)):
            before.append(line)
        servers = psutil.Process(runner.pid).children(recursive=True)
        runner.send_signal(signal.SIGINT)
        assert runner.wait(timeout=60) == 0
        with contextlib.suppress(queue.Empty):
            while True:
                after.append(lines.get(timeout=2))
    finally:
        stop_all(runner, servers)
    shown = [marker for marker in BANNER if any(marker in line for line in before + after)]
    if flags:
        assert shown == list(BANNER), before
    else:
        # Not even late: what the servers printed while starting may reach the relay after the
        # readiness check.
        assert before == [] and shown == [], after
        assert after[0].startswith("Try: curl"), after


@pytest.mark.timeout(120)
def test_a_failed_start_shows_what_the_servers_printed(tiny_serving_model):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        runner = run_cli(
            "--model", str(tiny_serving_model.path), "--port", str(taken.getsockname()[1]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        out, err = runner.communicate(timeout=90)
    assert runner.returncode == 1
    assert "Serving" not in out
    assert err.startswith("error: nginx exited") and "Address already in use" in err, err
