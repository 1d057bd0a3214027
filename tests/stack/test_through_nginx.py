"""Requests through the real stack (nginx → uWSGI → app, tiny model): the page, the API, streaming,
and clean JSON errors for bad input, whichever of nginx or the app answers it."""

import gzip
import json
import threading
import time

import pytest
import requests

from tests.stack import raw_http

SECURITY_HEADERS = (
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "content-security-policy",
)


def assert_json_error(status: int, headers, body: bytes, *, expected_status: int, kind: str):
    assert status == expected_status, body[:300]
    assert headers["content-type"].startswith("application/json"), headers
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param"}, error
    assert error["type"] == kind and error["message"], error
    return error


def test_the_page_is_served_at_root_with_security_headers(serving_stack):
    response = requests.get(serving_stack.url + "/", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<title>Ghostwriter</title>" in response.text
    assert response.headers["Server"] == "nginx"  # server_tokens off: no version
    for name in SECURITY_HEADERS:
        assert response.headers.get(name), name
    script = requests.get(serving_stack.url + "/app.js", timeout=10)
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("application/javascript")


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/v1/models", "/models", "/info"])
def test_api_routes_pass_through_nginx(serving_stack, path):
    response = requests.get(serving_stack.url + path, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers.get("X-Frame-Options") == "DENY"


def test_metrics_pass_through_nginx(serving_stack):
    response = requests.get(serving_stack.url + "/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")


def test_generate_get_and_completions_post_through_nginx(serving_stack):
    params = {"prefix": "Ash and Pikachu were", "length": 8, "seed": 1, "temperature": 0.8}
    got = requests.get(serving_stack.url + "/generate", params=params, timeout=30)
    assert got.status_code == 200, got.text
    assert got.headers["Content-Type"].startswith("application/json")
    sample = got.json()["samples"][0]
    assert sample["text"] and sample["tokens"] <= 8
    body = {"prompt": "Ash and Pikachu were", "max_tokens": 8, "seed": 1, "temperature": 0.8}
    posted = requests.post(serving_stack.url + "/v1/completions", json=body, timeout=30)
    assert posted.status_code == 200, posted.text
    # The same prefix, seed and sampling through either route: the same text.
    assert posted.json()["choices"][0]["text"] == sample["text"]


def test_json_is_gzipped_for_clients_that_accept_it(serving_stack):
    response = requests.get(
        serving_stack.url + "/openapi.json", headers={"Accept-Encoding": "gzip"}, stream=True
    )
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "openapi" in json.loads(gzip.decompress(response.raw.read()))


def post(path: str, body: dict) -> bytes:
    data = json.dumps(body).encode()
    return (
        b"POST %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
    ) % (path.encode(), len(data), data)


STREAMS = {
    "generate": raw_http.get(
        "/generate?prefix=Ash+and+Pikachu+were&length=110&nsamples=8&seed=3&stream=true"
    ),
    "completions": post(
        "/v1/completions",
        {"prompt": "Ash and Pikachu were", "max_tokens": 110, "n": 8, "seed": 3, "stream": True},
    ),
}


@pytest.mark.parametrize("request_bytes", STREAMS.values(), ids=STREAMS.keys())
def test_a_stream_arrives_event_by_event(serving_stack, request_bytes):
    # Buffered, every event would arrive at once, at the end; unbuffered, the first one arrives
    # while the model is still writing the rest. Eight samples of 110 tokens keep the tiny model
    # busy for a few hundred ms; a first, unmeasured request warms the engine up for that shape.
    raw_http.timed_chunks(serving_stack.url, request_bytes)
    arrivals = raw_http.timed_chunks(serving_stack.url, request_bytes)
    with_events = [at for at, chunk in arrivals if b"data:" in chunk]
    assert len(with_events) >= 10, f"events came in {len(with_events)} pieces: buffered"
    first, last = with_events[0], with_events[-1]
    assert first < 0.5 * last, f"first event after {first * 1000:.0f} ms of {last * 1000:.0f} ms"
    response = raw_http.parse(b"".join(chunk for _, chunk in arrivals))
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.body.count(b"data:") > 100


BAD_REQUESTS = [
    # (request path, status, error type); answered by nginx or by the app
    pytest.param("/no-such-page", 404, "not_found", id="unknown page"),
    pytest.param("/v1/no-such-route", 404, "not_found", id="unknown API route"),
    pytest.param(
        "/generate?prefix=" + "a" * 20_000, 414, "invalid_request", id="request line over 16 KB"
    ),
    pytest.param(
        "/generate?prefix=" + "a" * 10_000, 400, "invalid_request", id="prefix over max chars"
    ),
    pytest.param(
        "/generate?prefix=%FF%FEabc",
        400,
        "invalid_request",
        id="percent-encoded invalid UTF-8",
    ),
    pytest.param(
        "/generate?prefix=\xff\xfeabc",
        400,
        "invalid_request",
        id="raw invalid UTF-8 bytes",
    ),
    pytest.param("/generate?prefix=a&length=many", 400, "invalid_request", id="not a number"),
]


@pytest.mark.parametrize(("path", "status", "kind"), BAD_REQUESTS)
def test_bad_requests_get_a_clean_json_error(serving_stack, path, status, kind):
    response = raw_http.request(serving_stack.url, raw_http.get(path))
    assert_json_error(
        response.status, response.headers, response.body, expected_status=status, kind=kind
    )


def test_a_header_too_large_gets_a_json_400(serving_stack):
    payload = raw_http.get("/readyz").replace(
        b"\r\n\r\n", b"\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n"
    )
    response = raw_http.request(serving_stack.url, payload)
    assert_json_error(
        response.status,
        response.headers,
        response.body,
        expected_status=400,
        kind="invalid_request",
    )


def test_a_body_over_the_limit_gets_a_json_413(serving_stack):
    body = {"prompt": "x" * 70_000, "max_tokens": 4}
    response = requests.post(serving_stack.url + "/v1/completions", json=body, timeout=10)
    assert_json_error(
        response.status_code,
        {k.lower(): v for k, v in response.headers.items()},
        response.content,
        expected_status=413,
        kind="invalid_request",
    )


def test_posting_to_the_page_gets_a_json_405(serving_stack):
    response = requests.post(serving_stack.url + "/index.html", data="x", timeout=10)
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "invalid_request"


def test_rate_limit_answers_json_429_with_retry_after(start_stack):
    stack = start_stack(nginx_env={"GHOST_NGINX_RATE": "1r/s", "GHOST_NGINX_BURST": "2"})
    with requests.Session() as session:
        answers = [
            session.get(stack.url + "/generate", params={"prefix": "a", "length": 2}, timeout=10)
            for _ in range(8)
        ]
    statuses = [answer.status_code for answer in answers]
    # burst 2 above a rate of 1/s: the first 3 pass, the rest of a quick run are refused.
    assert statuses[:3] == [200, 200, 200] and 429 in statuses, statuses
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert refused.json()["error"]["type"] == "overloaded"
    assert refused.headers["Retry-After"] == "1"
    # The limit is on generation only: the page and the probes still answer.
    assert requests.get(stack.url + "/readyz", timeout=10).status_code == 200


@pytest.mark.timeout(60)
def test_slow_clients_hold_no_worker_thread_and_stalled_ones_are_cut_off(start_stack):
    # Two request threads only: if uWSGI saw the slow clients' requests before they were
    # complete, they would hold both threads and the quick request below would wait.
    stack = start_stack(app_env={"GHOST_UWSGI_THREADS": "2"})
    slow_post = post("/v1/completions", {"prompt": "Ash and Pikachu were", "max_tokens": 4})
    slow_answers: list[raw_http.RawResponse] = []

    def trickle():
        slow_answers.append(raw_http.request(stack.url, slow_post, pieces=12, pause_s=0.25))

    slow = [threading.Thread(target=trickle) for _ in range(4)]
    stalled_result: dict = {}

    def stall():
        # Headers and half the body, then nothing: nginx closes after client_body_timeout.
        started = time.monotonic()
        with raw_http.socket.create_connection(raw_http.address(stack.url), timeout=30) as conn:
            conn.sendall(slow_post[:-10])
            stalled_result["received"] = raw_http.read_until_closed(conn)
        stalled_result["after_s"] = time.monotonic() - started

    stalled = threading.Thread(target=stall)
    for thread in [*slow, stalled]:
        thread.start()
    time.sleep(0.5)  # let the slow clients get going: the point is a request *during* them
    quick_started = time.monotonic()
    quick = requests.get(stack.url + "/generate", params={"prefix": "a", "length": 4}, timeout=10)
    quick_s = time.monotonic() - quick_started
    for thread in slow:
        thread.join(timeout=20)
    stalled.join(timeout=30)

    assert quick.status_code == 200 and quick_s < 1.0, (quick.status_code, quick_s)
    assert [answer.status for answer in slow_answers] == [200] * 4
    # nginx answers a timed-out request with nothing (a 408 in its log) and frees the connection.
    assert stalled_result["received"] == b""
    assert 9.0 < stalled_result["after_s"] < 15.0, stalled_result
