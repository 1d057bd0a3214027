"""Admission (global, per client, KV budget), queue timeouts, deadlines and cancellation through
the app, on the real TensorFlow engine; made deterministic by holding engine steps on an event."""

import json
import queue
import socket
import threading

import pytest

from tests.api.conftest import live_server, service

pytestmark = pytest.mark.timeout(120)
WAIT_S = 30


@pytest.fixture
def make_tf_app(make_app):
    def make(**settings):
        return make_app(engine="tensorflow", **settings)

    return make


def engine_of(app):
    return service(app).registry.models["tiny"].engine


def scheduler_of(app):
    return service(app).registry.models["tiny"].scheduler


@pytest.fixture
def held(monkeypatch):
    """hold(app) → (entered, release): every engine step blocks until release is set."""
    releases = []

    def hold(app):
        engine = engine_of(app)
        entered, release = threading.Event(), threading.Event()
        real = engine.step

        def held_step(feeds):
            entered.set()
            release.wait(60)
            return real(feeds)

        monkeypatch.setattr(engine, "step", held_step)
        releases.append(release)
        return entered, release

    yield hold
    for release in releases:
        release.set()  # never leave an engine loop blocked


def post_in_thread(app, results: queue.Queue, *, address="127.0.0.1", **params):
    def send():
        client = app.test_client()
        response = client.post("/generate", json=params, environ_base={"REMOTE_ADDR": address})
        results.put(
            (response.status_code, response.headers.get("Retry-After"), response.get_json())
        )

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def join(threads) -> None:
    for thread in threads:
        thread.join(timeout=WAIT_S)


@pytest.mark.parametrize(("limit", "extra"), [(4, 3), (2, 5)])
def test_limit_plus_n_gives_exactly_n_immediate_503s(make_tf_app, held, limit, extra):
    app = make_tf_app(max_inflight=limit, max_queue_wait=60)
    _, release = held(app)
    results: queue.Queue = queue.Queue()
    threads = [post_in_thread(app, results, prefix="x", length=3) for _ in range(limit + extra)]
    # While the engine is held nothing can finish, so whatever arrives now was refused at once.
    refused = [results.get(timeout=WAIT_S) for _ in range(extra)]
    assert all(status == 503 for status, _, _ in refused), refused
    assert all(retry == "1" for _, retry, _ in refused)
    assert {body["error"]["type"] for _, _, body in refused} == {"overloaded"}
    assert results.empty() and service(app).admission.in_flight == limit
    release.set()
    served = [results.get(timeout=WAIT_S) for _ in range(limit)]
    assert [status for status, _, _ in served] == [200] * limit
    join(threads)
    assert service(app).admission.in_flight == 0


def test_a_client_past_its_share_gets_429_while_others_are_served(make_tf_app, held):
    app = make_tf_app(max_client_inflight=3, max_queue_wait=60)
    _, release = held(app)
    results: queue.Queue = queue.Queue()
    greedy = {"prefix": "x", "length": 2, "temperature": 0}
    first = post_in_thread(app, results, address="10.0.0.1", nsamples=2, **greedy)
    second = post_in_thread(app, results, address="10.0.0.1", nsamples=2, **greedy)
    status, retry, body = results.get(timeout=WAIT_S)
    assert (status, retry, body["error"]["type"]) == (429, "1", "overloaded")
    assert "each client may have 3" in body["error"]["message"]
    other = post_in_thread(app, results, address="10.0.0.2", nsamples=3, **greedy)
    release.set()
    assert sorted(results.get(timeout=WAIT_S)[0] for _ in range(2)) == [200, 200]
    join([first, second, other])
    assert service(app).admission.in_flight == 0


def test_queue_wait_past_the_limit_is_a_503(make_tf_app, held):
    app = make_tf_app(max_slots=1, max_queue_wait=0.3)
    entered, release = held(app)
    results: queue.Queue = queue.Queue()
    running = post_in_thread(app, results, prefix="x", length=2)
    assert entered.wait(WAIT_S)
    waiting = post_in_thread(app, results, prefix="y", length=2)
    status, retry, body = results.get(timeout=WAIT_S)
    assert (status, retry, body["error"]["type"]) == (503, "1", "overloaded")
    assert "waited" in body["error"]["message"]
    release.set()
    assert results.get(timeout=WAIT_S)[0] == 200
    join([running, waiting])
    assert service(app).admission.in_flight == 0 and scheduler_of(app).queue_depth == 0


def test_kv_budget_queues_then_refuses(make_tf_app, held):
    # "x" is one token: a request of length 30 reserves 31 of the 40 cells.
    app = make_tf_app(kv_tokens=40, max_queue_wait=0.3)
    entered, release = held(app)
    results: queue.Queue = queue.Queue()
    running = post_in_thread(app, results, prefix="x", length=30)
    assert entered.wait(WAIT_S)
    over_budget = post_in_thread(app, results, prefix="x", length=30)
    status, retry, body = results.get(timeout=WAIT_S)
    assert (status, retry, body["error"]["type"]) == (503, "1", "overloaded")
    release.set()
    assert results.get(timeout=WAIT_S)[0] == 200
    join([running, over_budget])
    never_fits = app.test_client().post("/generate", json={"prefix": "x", "length": 40})
    assert never_fits.status_code == 400 and never_fits.get_json()["error"]["param"] == "length"


def test_a_request_past_its_deadline_is_stopped_with_an_error(make_tf_app, held):
    app = make_tf_app(max_request_s=0.5)
    client = app.test_client()
    entered, release = held(app)
    response = client.post("/generate", json={"prefix": "x", "length": 20})
    assert entered.is_set() and response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "0.5 s limit" in response.get_json()["error"]["message"]
    release.set()
    entered, release = held(app)  # a stream, held once it has started
    streamed = client.post("/generate", json={"prefix": "x", "length": 20, "stream": True})
    events = [line for line in streamed.get_data(as_text=True).split("\n\n") if line]
    assert entered.is_set() and streamed.status_code == 200 and len(events) == 1
    assert json.loads(events[0].removeprefix("data: "))["error"]["type"] == "overloaded"
    release.set()
    assert client.post("/generate", json={"prefix": "x", "length": 2}).status_code == 200
    assert service(app).admission.in_flight == 0


def test_a_stream_client_that_leaves_frees_its_slot(make_tf_app, monkeypatch):
    app = make_tf_app(stream_interval_ms=0)
    engine, scheduler = engine_of(app), scheduler_of(app)
    real_step, real_submit = engine.step, scheduler.submit
    client_gone, submitted = threading.Event(), []

    def paced_step(feeds):
        if client_gone.is_set():
            threading.Event().wait(0.01)  # slow enough for the failed write to be seen
        return real_step(feeds)

    def recorded_submit(request):
        submitted.append(request)
        real_submit(request)

    monkeypatch.setattr(engine, "step", paced_step)
    monkeypatch.setattr(scheduler, "submit", recorded_submit)
    with live_server(app) as url:
        host, port = url.removeprefix("http://").split(":")
        body = b'{"prefix": "x", "length": 120, "temperature": 0, "stream": true}'
        head = (
            "POST /generate HTTP/1.0\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        with socket.create_connection((host, int(port)), timeout=WAIT_S) as sock:
            sock.sendall(head.encode() + body)
            received = b""
            while b"data: " not in received:
                received += sock.recv(4096)
            assert received.split(b"\r\n")[0].endswith(b" 200 OK"), received
        client_gone.set()
        [request] = submitted
        assert request.ended.wait(WAIT_S)
    [sequence] = request.sequences
    assert request.cancelled and sequence.generated < 60, sequence.generated
