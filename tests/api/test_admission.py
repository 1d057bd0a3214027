"""Admission control and queue timeouts, made deterministic by holding the engine on an event."""

import queue
import socket
import threading

import pytest

from tests.api.conftest import live_server, service


@pytest.fixture
def held(monkeypatch):
    """hold(app) → (entered, release): the engine blocks every batch until release is set."""
    events = []

    def hold(app):
        engine = service(app).registry.models["tiny"].engine
        entered, release = threading.Event(), threading.Event()
        real = engine.generate

        def held_generate(batch):
            entered.set()
            release.wait(60)
            real(batch)

        monkeypatch.setattr(engine, "generate", held_generate)
        events.append(release)
        return entered, release

    yield hold
    for release in events:
        release.set()  # never leave a batcher blocked


def post_in_thread(app, results: queue.Queue, **params) -> threading.Thread:
    def send():
        response = app.test_client().post("/generate", json=params)
        results.put(
            (response.status_code, response.headers.get("Retry-After"), response.get_json())
        )

    thread = threading.Thread(target=send)
    thread.start()
    return thread


@pytest.mark.parametrize(("limit", "extra"), [(4, 3), (2, 5)])
def test_limit_plus_n_gives_exactly_n_immediate_503s(make_app, held, limit, extra):
    app = make_app(max_inflight=limit, max_queue_wait=60)
    _, release = held(app)
    results: queue.Queue = queue.Queue()
    threads = [post_in_thread(app, results, prefix="x", length=3) for _ in range(limit + extra)]
    # While the engine is held nothing can finish, so whatever arrives now was refused at once.
    refused = [results.get(timeout=30) for _ in range(extra)]
    assert all(status == 503 for status, _, _ in refused), refused
    assert all(retry == "1" for _, retry, _ in refused)
    assert {body["error"]["type"] for _, _, body in refused} == {"overloaded"}
    assert results.empty() and service(app).admission.in_flight == limit
    release.set()
    served = [results.get(timeout=60) for _ in range(limit)]
    assert [status for status, _, _ in served] == [200] * limit
    for thread in threads:
        thread.join(timeout=30)
    assert service(app).admission.in_flight == 0


def test_nsamples_take_one_slot_each(make_app, held):
    app = make_app(max_inflight=4, max_queue_wait=60)
    _, release = held(app)
    results: queue.Queue = queue.Queue()
    first = post_in_thread(app, results, prefix="x", length=2, nsamples=3, temperature=0)
    second = post_in_thread(app, results, prefix="x", length=2, nsamples=2, temperature=0)
    status, _, body = results.get(timeout=30)
    assert status == 503 and body["error"]["type"] == "overloaded"
    release.set()
    assert results.get(timeout=60)[0] == 200
    first.join(timeout=30)
    second.join(timeout=30)


def test_queue_wait_past_the_limit_is_a_503(make_app, held):
    app = make_app(max_inflight=8, max_queue_wait=0.3, max_batch_size=1)
    entered, release = held(app)
    results: queue.Queue = queue.Queue()
    running = post_in_thread(app, results, prefix="x", length=2)
    assert entered.wait(30)
    waiting = post_in_thread(app, results, prefix="y", length=2)
    status, retry, body = results.get(timeout=30)
    assert (status, retry, body["error"]["type"]) == (503, "1", "overloaded")
    assert "waited" in body["error"]["message"]
    release.set()
    assert results.get(timeout=60)[0] == 200
    running.join(timeout=30)
    waiting.join(timeout=30)
    assert service(app).admission.in_flight == 0
    assert service(app).registry.models["tiny"].batcher.queue_depth == 0


@pytest.mark.timeout(60)
def test_client_that_disconnects_stops_its_sequence(make_app, monkeypatch):
    app = make_app()
    engine = service(app).registry.models["tiny"].engine
    client_gone, batch_done = threading.Event(), threading.Event()
    generated = []
    real = engine.generate

    def paced_generate(batch):
        for seq in batch:
            push = seq.push

            def paced(token, seq=seq, push=push):
                if seq.generated >= 2:
                    client_gone.wait(30)
                    threading.Event().wait(0.01)  # pace tokens so the failed writes are seen
                return push(token)

            seq.push = paced
        real(batch)
        generated.extend(seq.generated for seq in batch)
        batch_done.set()

    monkeypatch.setattr(engine, "generate", paced_generate)
    with live_server(app) as url:
        host, port = url.removeprefix("http://").split(":")
        body = b'{"prefix": "x", "length": 120, "temperature": 0, "stream": true}'
        head = (
            "POST /generate HTTP/1.0\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        try:
            with socket.create_connection((host, int(port)), timeout=30) as sock:
                sock.sendall(head.encode() + body)
                received = b""
                while b"data: " not in received:
                    received += sock.recv(4096)
                assert received.split(b"\r\n")[0].endswith(b" 200 OK"), received
        finally:
            client_gone.set()
        assert batch_done.wait(30)
    assert generated[0] < 60, generated
    assert service(app).admission.in_flight == 0
