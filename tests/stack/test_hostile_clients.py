"""Hostile and unlucky clients through the real stack (nginx → uWSGI → app): every hostile input
gets the JSON error shape and never a 500, nginx's own answers are honest, /metrics is the
operator's, the logs are one line per request, and a stream cut by a dying worker looks cut."""

import contextlib
import json
import os
import re
import signal
import time
from http.client import HTTPConnection

import pytest
import requests

from tests.fixtures.stack import access_log_when, metric, worker_pids
from tests.stack import raw_http
from tests.stack.raw_http import http

ERROR_TYPES = {"invalid_request", "not_found", "overloaded", "not_ready", "internal"}
BIG_HEADER = "h" * 15_000


JSON = ("Content-Type", "application/json")


def post_json(path: str, text: str, content_type="application/json") -> bytes:
    return http("POST", path, body=text.encode(), headers=[("Content-Type", content_type)])


HOSTILE = [
    # (request bytes, the status it must get); from issue 16's probes
    pytest.param(post_json("/generate", '{"prefix": "\\ud800"}'), 400, id="unpaired surrogate"),
    pytest.param(
        post_json("/v1/completions", '{"prompt": "\\udfff"}'), 400, id="surrogate in prompt"
    ),
    pytest.param(post_json("/generate", "[" * 10_000 + "]" * 10_000), 400, id="nested 10,000"),
    pytest.param(
        post_json("/v1/completions", '{"prompt": "hi", "stream_options": "x"}'),
        400,
        id="stream_options not an object",
    ),
    pytest.param(
        post_json("/v1/completions", '{"prompt": "hi", "stream_options": {"include_usage": {}}}'),
        400,
        id="include_usage not a boolean",
    ),
    pytest.param(post_json("/generate", '{"length": 21.0}'), 400, id="integer with a fraction"),
    pytest.param(post_json("/v1/completions", '{"prompt": []}'), 400, id="empty prompt list"),
    pytest.param(post_json("/generate", '{"top_k": 2707}'), 400, id="top_k over vocabulary"),
    pytest.param(
        post_json("/generate", '{"prefix": "a", "prefix": "b"}'), 400, id="duplicate JSON key"
    ),
    pytest.param(post_json("/generate", '{"length": NaN}'), 400, id="NaN"),
    pytest.param(post_json("/generate", '{"length": 1' + "0" * 5000 + "}"), 400, id="huge int"),
    pytest.param(http("GET", "/generate?length=4_0"), 400, id="4_0"),
    pytest.param(http("GET", "/generate?length=%2B4"), 400, id="+4"),
    pytest.param(http("GET", "/generate?length=%204"), 400, id="space 4"),
    pytest.param(http("GET", "/generate?length=3&length=4"), 400, id="repeated parameter"),
    # Issue 21's odd 200s, now refused: nothing a client sends is silently ignored or bent.
    pytest.param(http("GET", "/generate?length=-0"), 400, id="-0 in the query"),
    pytest.param(http("GET", "/generate?length=02"), 400, id="leading zero"),
    pytest.param(post_json("/generate", '{"length": -0}'), 400, id="-0 in JSON"),
    pytest.param(
        http("GET", "/generate?length=2", body=b'{"length": 3}', headers=[JSON]),
        400,
        id="GET with a JSON body",
    ),
    pytest.param(
        post_json("/v1/completions?max_tokens=3", '{"prompt": "hi"}'), 400, id="POST with a query"
    ),
    pytest.param(post_json("/v1/completions", '{"best_of": 1.0}'), 400, id="best_of 1.0"),
    pytest.param(
        post_json("/v1/completions", '{"stream_options": {"include_usage": true}}'),
        400,
        id="stream_options without stream",
    ),
    pytest.param(http("POST", "/generate", headers=[JSON]), 400, id="empty body"),
    pytest.param(http("POST", "/v1/completions", headers=[JSON]), 400, id="empty body (OpenAI)"),
    pytest.param(
        post_json("/generate", '{"prefix": "x"}', content_type="text/plain"),
        415,
        id="cross-site text/plain body",
    ),
    pytest.param(
        post_json("/generate", "prefix=x", content_type="application/x-www-form-urlencoded"),
        415,
        id="form body",
    ),
    pytest.param(
        http(
            "GET",
            "/generate?prefix=" + "a" * 15_000,
            headers=[(f"X-Big-{n}", BIG_HEADER) for n in range(3)],
        ),
        400,
        id="long query and three 15 KB headers",
    ),
    pytest.param(http("GET", "/", version="HTTP/2.0"), 400, id="HTTP/2.0 request line"),
    pytest.param(http("TRACE", "/generate"), 405, id="TRACE"),
    pytest.param(http("POST", "/index.html", body=b"x"), 405, id="POST to the page"),
    pytest.param(http("DELETE", "/generate"), 405, id="DELETE to the API"),
]


@pytest.mark.parametrize(("payload", "status"), HOSTILE)
def test_hostile_input_gets_the_json_error_shape_never_a_500(serving_stack, payload, status):
    response = raw_http.request(serving_stack.url, payload)
    assert response.status == status, response.body[:300]
    assert response.headers["content-type"].startswith("application/json"), response.headers
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param"} and error["type"] in ERROR_TYPES, error


SERVED = [
    pytest.param({"top_p": "1e-320"}, id="top_p that is 0 in float32"),
    pytest.param({"temperature": "1e-300"}, id="temperature that overflows"),
]


@pytest.mark.parametrize("edge", SERVED)
def test_edge_values_inside_the_documented_range_are_served(serving_stack, edge):
    # Both keep only the likeliest token at every step: the greedy text, whatever the seed.
    query = {"prefix": "Ash and Pikachu", "length": "8", "nsamples": "2"}

    def samples(extra: dict) -> list[dict]:
        response = requests.get(
            serving_stack.url + "/generate", params={**query, **extra}, timeout=30
        )
        assert response.status_code == 200, response.text
        return response.json()["samples"]

    (greedy, _) = samples({"temperature": "0"})
    served = samples({**edge, "seed": "1"})
    assert greedy["tokens"] > 0 and greedy["text"], greedy
    assert [s["text"] for s in served] == [greedy["text"]] * 2, served
    assert [s["tokens"] for s in served] == [greedy["tokens"]] * 2, served


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/index.html", "GET, HEAD"),  # nginx's own 405
        ("TRACE", "/generate", "GET, HEAD, OPTIONS, POST"),  # nginx's own 405
        ("DELETE", "/generate", "GET, HEAD, OPTIONS, POST"),  # the app's
        ("GET", "/v1/completions", "OPTIONS, POST"),  # the app's
    ],
)
def test_every_405_says_once_what_the_path_allows(serving_stack, method, path, allowed):
    with raw_http.socket.create_connection(raw_http.address(serving_stack.url), timeout=10) as c:
        c.sendall(http(method, path, body=b"x" if method == "POST" else b""))
        raw = raw_http.read_until_closed(c)
    head = raw.partition(b"\r\n\r\n")[0]
    lines = [line for line in head.split(b"\r\n") if line.lower().startswith(b"allow:")]
    assert len(lines) == 1, head
    assert set(lines[0].split(b":", 1)[1].decode().replace(" ", "").split(",")) == set(
        allowed.replace(" ", "").split(",")
    )


def test_info_shows_no_process_internals(serving_stack):
    body = requests.get(serving_stack.url + "/info", timeout=10).json()
    assert "pid" not in body and "in_flight" not in body, body


def test_metrics_only_for_private_networks_and_realip_behind_a_trusted_proxy(start_stack):
    # nginx trusts 127.0.0.1 as a proxy: the address in X-Forwarded-For is the client.
    stack = start_stack(nginx_env={"GHOST_NGINX_TRUSTED_PROXY": "127.0.0.1"})

    def metrics(forwarded_for: str) -> requests.Response:
        headers = {"X-Forwarded-For": forwarded_for}
        return requests.get(stack.url + "/metrics", headers=headers, timeout=10)

    public = metrics("203.0.113.9")
    assert public.status_code == 403 and public.json()["error"]["type"] == "invalid_request"
    for private in ("10.1.2.3", "192.168.0.5", "172.20.0.1", "127.0.0.1"):
        assert metrics(private).status_code == 200, private
    assert metrics("172.32.0.1").status_code == 403  # just outside 172.16.0.0/12
    log = stack.access_log.read_text()
    assert "203.0.113.9 - - [" in log and '"GET /metrics HTTP/1.1" 403' in log


def test_metrics_can_be_closed_to_everyone(start_stack):
    stack = start_stack(nginx_env={"GHOST_NGINX_METRICS_ALLOW": "^none"})
    assert requests.get(stack.url + "/metrics", timeout=10).status_code == 403
    assert requests.get(stack.url + "/healthz", timeout=10).status_code == 200


def test_one_access_log_line_per_request_with_times_and_long_urls_cut(serving_stack):
    marker = f"marker{time.monotonic_ns()}"
    long_prefix = marker + "x" * 5000
    requests.get(
        serving_stack.url + "/generate", params={"prefix": marker, "length": 2}, timeout=30
    )
    requests.get(serving_stack.url + "/generate", params={"prefix": long_prefix}, timeout=30)
    requests.get(
        serving_stack.url + "/generate", params={"prefix": marker, "length": 0}, timeout=30
    )
    log = access_log_when(serving_stack, lambda text: text.count(marker) >= 3)
    lines = [line for line in log.splitlines() if marker in line]
    assert len(lines) == 3, lines
    assert all("request_time=" in line and "upstream_time=" in line for line in lines)
    assert max(len(line) for line in lines) < 1500, "a 5,000-character URL was logged whole"
    uwsgi_log = (serving_stack.run_dir / "uwsgi.log").read_text(errors="replace")
    assert marker not in uwsgi_log, "uWSGI logged ordinary requests too"
    assert "no internal routing support" not in uwsgi_log


# Every engine step slowed to 20 ms in the workers (tests/fixtures/slow_engine.py): the tiny
# model would write a whole stream before a test could kill its worker or leave.
SLOW_STEPS = {"UWSGI_IMPORT": "tests.fixtures.slow_engine"}


def read_events(lines) -> list[str]:
    """Every event's data from an iterator of lines, until the connection ends, cleanly or not."""
    events = []
    try:
        for line in lines:
            if line.startswith(b"data: "):
                events.append(line[len(b"data: ") :].decode())
    except requests.RequestException:
        pass  # the connection was cut mid-chunk
    return events


def is_final(data: str) -> bool:
    return data == "[DONE]" or json.loads(data).get("done") is True


def stream_killed_after_first_event(stack, path: str, body: dict) -> list[str]:
    """A stream's events when its worker is killed right after the first one arrives."""
    (worker,) = worker_pids(stack)
    with requests.post(stack.url + path, json=body, stream=True, timeout=30) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith(b"data: "))
        os.kill(worker, signal.SIGKILL)
        return [first[len(b"data: ") :].decode(), *read_events(lines)]


STREAMS = {
    "generate": ("/generate", {"prefix": "Ash", "length": 110, "nsamples": 8, "stream": True}),
    "completions": (
        "/v1/completions",
        {"prompt": "Ash", "max_tokens": 110, "n": 8, "stream": True},
    ),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("route", STREAMS.values(), ids=STREAMS.keys())
def test_a_stream_cut_by_a_killed_worker_has_no_final_event(start_stack, route):
    path, body = route
    stack = start_stack(app_env=SLOW_STEPS)
    finished = requests.post(stack.url + path, json=body, timeout=30)
    assert is_final(read_events(finished.iter_lines())[-1]), "an uncut stream ends so"
    # 110 steps of 20 ms each: the kill after the first event lands long before the end.
    events = stream_killed_after_first_event(stack, path, body)
    assert not any(is_final(data) for data in events), events[-3:]
    # A killed worker writes nothing more, not even an error event: the stream is only cut,
    # what README calls a stream that ends with neither.
    assert events and not any("error" in json.loads(data) for data in events), events[-3:]


@pytest.mark.timeout(120)
def test_a_client_leaving_mid_stream_gives_its_places_back_and_logs_nothing(start_stack):
    stack = start_stack(app_env=SLOW_STEPS)
    body = {"prefix": "Ash", "length": 110, "nsamples": 8, "stream": True}
    # 110 steps of 20 ms: the client leaves after the first event, long before the end.
    with requests.post(stack.url + "/generate", json=body, stream=True, timeout=30) as cut:
        next(line for line in cut.iter_lines() if line.startswith(b"data: "))
    # nginx logs the request once it sees the client gone.
    log = access_log_when(stack, lambda text: "POST /generate" in text, timeout_s=10)
    sent = re.findall(r'"POST /generate HTTP/1.1" 200 (\d+) ', log)
    assert sent, f"nginx logged no answered request: {log[-1000:]}"
    assert int(sent[0]) < 10_000, f"the client did not leave mid-stream: {sent}"
    deadline = time.monotonic() + 10
    while metric(stack.url, "ghost_sequences_in_flight") > 0:
        assert time.monotonic() < deadline, "a gone client's sequences still hold their places"
        time.sleep(0.05)  # the API's own gauge: there is no event to wait on
    # Counted where a dashboard sees it: the failed write, before the places were given back.
    assert metric(stack.url, 'ghost_rejected_requests_total{reason="client_gone"}') == 1
    uwsgi_log = (stack.run_dir / "uwsgi.log").read_text(errors="replace")
    assert "write error" not in uwsgi_log and "Broken pipe" not in uwsgi_log, uwsgi_log[-2000:]


# Two clients behind one proxy (a load balancer, a Kubernetes ingress) that nginx trusts: each
# gets its own share of the sequences in flight, and a client elsewhere cannot forge its way out.
FAIR_SHARE = {**SLOW_STEPS, "GHOST_MAX_CLIENT_INFLIGHT": "2"}
TRUST_LOOPBACK = {"GHOST_NGINX_TRUSTED_PROXY": "127.0.0.1"}
CLIENT_A, CLIENT_B = "203.0.113.1", "203.0.113.2"
LONG = {"prefix": "Ash", "length": 110, "stream": True}  # 110 steps of 20 ms: 2.2 s in flight
SHORT = {"prefix": "Ash", "length": 2}


@contextlib.contextmanager
def generate(stack, body: dict, *, forwarded_for: str, source: str = "127.0.0.1"):
    """The response to POST /generate sent from the loopback address `source` with
    X-Forwarded-For: `forwarded_for`; the connection is closed on leaving (a stream mid-way)."""
    host, port = raw_http.address(stack.url)
    conn = HTTPConnection(host, port, timeout=30, source_address=(source, 0))
    try:
        headers = {"Content-Type": "application/json", "X-Forwarded-For": forwarded_for}
        conn.request("POST", "/generate", json.dumps(body), headers)
        yield conn.getresponse()
    finally:
        conn.close()


def answer(stack, body: dict, **sender) -> tuple[int, dict]:
    with generate(stack, body, **sender) as response:
        return response.status, json.loads(response.read())


def hold_a_long_stream(held: contextlib.ExitStack, stack, **sender) -> None:
    """Starts a long stream and waits for its first event: its sequence is admitted and running.
    It stays in flight until `held` closes."""
    response = held.enter_context(generate(stack, LONG, **sender))
    assert response.status == 200, response.read()
    for line in iter(response.readline, b""):
        if line.startswith(b"data: "):
            return
    raise AssertionError("the stream ended without an event")


def assert_refused_past_own_share(status: int, body: dict) -> None:
    """The app's 429 for a client at GHOST_MAX_CLIENT_INFLIGHT (not nginx's, nor a 503)."""
    assert status == 429, body
    assert body["error"]["type"] == "overloaded", body
    assert "you have 2 sequences in flight" in body["error"]["message"], body


@pytest.mark.timeout(120)
def test_two_clients_behind_a_trusted_proxy_have_a_share_each(start_stack):
    stack = start_stack(app_env=FAIR_SHARE, nginx_env=TRUST_LOOPBACK)
    with contextlib.ExitStack() as held:
        for _ in range(2):
            hold_a_long_stream(held, stack, forwarded_for=CLIENT_A)
        refused = answer(stack, SHORT, forwarded_for=CLIENT_A)
        # Both come through the proxy's one address: keyed by it, B would be refused too.
        served = answer(stack, SHORT, forwarded_for=CLIENT_B)
    assert_refused_past_own_share(*refused)
    assert served[0] == 200, served


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("nginx_env", "source"),
    [
        pytest.param({}, "127.0.0.1", id="no proxy trusted (the default)"),
        pytest.param(TRUST_LOOPBACK, "127.0.0.2", id="not from the trusted proxy"),
    ],
)
def test_a_forged_x_forwarded_for_does_not_escape_the_share(start_stack, nginx_env, source):
    stack = start_stack(app_env=FAIR_SHARE, nginx_env=nginx_env)
    with contextlib.ExitStack() as held:
        # A new forged address on every request: keyed by any of them, none would be refused.
        for forged in ("203.0.113.3", "203.0.113.4"):
            hold_a_long_stream(held, stack, forwarded_for=forged, source=source)
        refused = answer(stack, SHORT, forwarded_for="203.0.113.5", source=source)
    assert_refused_past_own_share(*refused)


NGINX_LIMITS = [
    # (the limit's settings, A's short requests served beside its open stream before a 429):
    # one connection at a time; or 1 a minute with a burst of 1, the stream and one more.
    pytest.param({"GHOST_NGINX_CONN_LIMIT": "1"}, 0, id="limit_conn"),
    pytest.param({"GHOST_NGINX_RATE": "1r/m", "GHOST_NGINX_BURST": "1"}, 1, id="limit_req"),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("nginx_limit", "served_before"), NGINX_LIMITS)
def test_nginx_limits_key_clients_by_the_forwarded_address_too(
    start_stack, nginx_limit, served_before
):
    stack = start_stack(app_env=SLOW_STEPS, nginx_env={**TRUST_LOOPBACK, **nginx_limit})
    with contextlib.ExitStack() as held:
        hold_a_long_stream(held, stack, forwarded_for=CLIENT_A)
        statuses = [answer(stack, SHORT, forwarded_for=CLIENT_A)[0] for _ in range(served_before)]
        status, body = answer(stack, SHORT, forwarded_for=CLIENT_A)
        served = answer(stack, SHORT, forwarded_for=CLIENT_B)
    assert statuses == [200] * served_before
    assert status == 429 and "too many requests from this client" in body["error"]["message"]
    assert served[0] == 200, served
