"""The stack under stress: overload, a killed worker, and thousands of requests in a row."""

import os
import re
import signal
import threading
import time
from dataclasses import dataclass

import psutil
import pytest
import requests

from stack import stop_process
from tests.fixtures.stack import worker_pids

GENERATE = {"prefix": "Ash and Pikachu were", "length": 24}
CLIENT_TIMEOUT_S = 20.0
ERROR_TYPES = {"invalid_request", "not_found", "overloaded", "not_ready", "internal"}


@dataclass
class Answer:
    started: float  # time.monotonic() when the request was sent
    seconds: float
    status: int | None  # None: no answer (timeout, connection error)
    error_type: str | None  # the JSON error's type; None for a 200 or a non-JSON answer
    problem: str | None = None  # why the answer is not one a client can rely on


def ask(session: requests.Session, url: str) -> Answer:
    started = time.monotonic()
    try:
        response = session.get(url + "/generate", params=GENERATE, timeout=CLIENT_TIMEOUT_S)
    except requests.RequestException as error:
        return Answer(started, time.monotonic() - started, None, None, repr(error))
    seconds = time.monotonic() - started
    if response.status_code == 200:
        return Answer(started, seconds, 200, None)
    try:
        error = response.json()["error"]
        kind = error["type"] if set(error) == {"message", "type", "param"} else None
    except (ValueError, KeyError, TypeError):
        kind = None
    problem = None if kind in ERROR_TYPES else f"not the JSON error shape: {response.text[:200]!r}"
    return Answer(started, seconds, response.status_code, kind, problem)


class LoadClients:
    """`count` clients sending generation requests back to back until stopped."""

    def __init__(self, url: str, count: int, *, pause_after_refusal_s: float = 0.02):
        self.url = url
        self.answers: list[Answer] = []
        self.stopping = threading.Event()
        self.pause = pause_after_refusal_s
        self.threads = [threading.Thread(target=self.client) for _ in range(count)]

    def client(self):
        with requests.Session() as session:
            while not self.stopping.is_set():
                answer = ask(session, self.url)
                self.answers.append(answer)
                if answer.status != 200:
                    # A real client backs off a little; this one only avoids a busy loop.
                    self.stopping.wait(self.pause)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=CLIENT_TIMEOUT_S + 5)
        assert not any(thread.is_alive() for thread in self.threads), "a client hangs"


def refusal_times(stack) -> list[float]:
    """nginx's own measure (request_time=, seconds) of every refused generation request."""
    pattern = re.compile(r'"GET /generate\S* HTTP/1.1" (429|503) \d+ .* request_time=([\d.]+)')
    return [float(m.group(2)) for m in pattern.finditer(stack.access_log.read_text())]


@pytest.mark.timeout(120)
def test_overload_is_refused_fast_and_nothing_hangs(start_stack):
    limit = 4
    # 16 clients for an admission limit of 4 sequences; nginx lets 8 requests per client address
    # through at a time, so both nginx's 429 and the app's 503 happen.
    stack = start_stack(
        app_env={"GHOST_MAX_INFLIGHT": str(limit), "GHOST_MAX_BATCH_SIZE": str(limit)},
        nginx_env={"GHOST_NGINX_CONN_LIMIT": "8"},
    )
    with LoadClients(stack.url, 4 * limit) as load:
        load.stopping.wait(30.0)
    answers = load.answers
    statuses = {answer.status for answer in answers}
    assert [a.problem for a in answers if a.problem] == []
    assert statuses <= {200, 429, 503}, statuses
    assert {200, 429, 503} <= statuses, statuses
    refused = [answer for answer in answers if answer.status in (429, 503)]
    assert {a.error_type for a in refused if a.status == 429} == {"overloaded"}
    # Mostly the admission limit's "overloaded"; "not_ready" if the worker was recycled meanwhile.
    assert {a.error_type for a in refused if a.status == 503} <= {"overloaded", "not_ready"}
    # Refused at once, never queued: within 100 ms as nginx measures it. This machine is shared
    # (2 cores, load ~10 from other test runs), so a CPU-starved few may take longer: 99% must be
    # within 100 ms, and every one, as the clients see it, well under a generation's queue wait.
    at_nginx = sorted(refusal_times(stack))
    assert len(at_nginx) == len(refused)
    assert at_nginx[int(0.99 * len(at_nginx))] < 0.1, at_nginx[-20:]
    assert max(answer.seconds for answer in refused) < 1.0
    assert requests.get(stack.url + "/readyz", timeout=5).status_code == 200


@pytest.mark.timeout(90)
def test_a_killed_worker_is_respawned_and_clients_get_json_errors_meanwhile(start_stack):
    stack = start_stack()
    (worker,) = worker_pids(stack)
    with LoadClients(stack.url, 4, pause_after_refusal_s=0.1) as load:
        deadline = time.monotonic() + 10
        while sum(a.status == 200 for a in load.answers) < 8 and time.monotonic() < deadline:
            load.stopping.wait(0.05)
        killed_at = time.monotonic()
        os.kill(worker, signal.SIGKILL)
        recovered_at = None
        while time.monotonic() - killed_at < 15.0:
            new_workers = [pid for pid in worker_pids(stack) if pid != worker]
            late_successes = [
                a for a in load.answers if a.status == 200 and a.started > killed_at + 0.05
            ]
            if new_workers and late_successes and stack.readyz_status() == 200:
                recovered_at = time.monotonic()
                break
            load.stopping.wait(0.1)
    assert recovered_at is not None, f"not recovered 15 s after the kill\n{stack.log_tails()}"
    assert not psutil.pid_exists(worker) or psutil.Process(worker).status() == "zombie"
    answers = load.answers
    assert [a.problem for a in answers if a.problem] == []
    assert {a.status for a in answers} <= {200, 502, 503}, {a.status for a in answers}


@pytest.mark.timeout(240)
def test_worker_memory_is_flat_over_2000_requests(start_stack):
    stack = start_stack()
    (worker,) = worker_pids(stack)
    process = psutil.Process(worker)
    requests_by_kind = [
        ("GET", "/generate", {"params": {"prefix": "Ash and Pikachu were", "length": 8}}),
        ("GET", "/generate", {"params": {"prefix": "Misty", "length": 8, "stream": "true"}}),
        ("POST", "/v1/completions", {"json": {"prompt": "Brock said", "max_tokens": 8}}),
        ("GET", "/v1/models", {}),
    ]

    def send(session: requests.Session, count: int) -> list[int]:
        statuses = []
        for number in range(count):
            method, path, options = requests_by_kind[number % len(requests_by_kind)]
            response = session.request(method, stack.url + path, timeout=10, **options)
            response.content  # noqa: B018 - read the whole (possibly streamed) body
            statuses.append(response.status_code)
        return statuses

    with requests.Session() as session:
        assert set(send(session, 500)) == {200}  # warm-up: caches, arenas, lazy imports
        before = process.memory_info().rss
        assert set(send(session, 2000)) == {200}
        after = process.memory_info().rss
    assert worker_pids(stack) == [worker], "the worker was recycled: RSS not comparable"
    growth = (after - before) / before
    assert growth < 0.05, f"worker RSS {before / 2**20:.1f} MiB → {after / 2**20:.1f} MiB"


def test_nginx_answers_json_504_and_502_when_uwsgi_hangs_or_is_gone(start_stack):
    stack = start_stack(nginx_env={"GHOST_NGINX_READ_TIMEOUT": "1s"})
    (worker,) = worker_pids(stack)
    os.kill(worker, signal.SIGSTOP)  # a worker that accepts nothing and answers nothing
    try:
        hung = requests.get(stack.url + "/generate", params=GENERATE, timeout=10)
    finally:
        os.kill(worker, signal.SIGCONT)
    assert hung.status_code == 504
    assert hung.json()["error"]["type"] == "internal"
    assert hung.headers["Retry-After"] == "5"

    stop_process(stack.uwsgi, signal.SIGTERM)
    gone = requests.get(stack.url + "/generate", params=GENERATE, timeout=10)
    assert gone.status_code == 502
    assert gone.json()["error"]["type"] == "not_ready"
    assert gone.headers["Retry-After"] == "5"
