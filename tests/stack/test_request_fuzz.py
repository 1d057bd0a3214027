"""Classes of hostile HTTP through the real stack (nginx → uWSGI → app), each a generated table so
that the next member of a class is met by the suite, not by a prober: request lines (every HTTP
version; HTTP/0.9 and raw bytes in the target), transfer codings and lengths, conditional and
range headers, HEAD on every route, integers of any size in query strings and JSON bodies.
Whatever the input: never a 5xx, never an HTML error page; every error is the one JSON shape."""

import itertools
import json
import re
import socket
from urllib.parse import urlencode

import pytest
import requests

from tests.stack import raw_http
from tests.stack.raw_http import http

ERROR_TYPES = {"invalid_request", "not_found", "overloaded", "not_ready", "internal"}
# Generation requests stay one token long: hundreds of them run in each test.
CHEAP = "/generate?prefix=Ash&length=1"
PAGE = ["/", "/index.html", "/app.js", "/style.css"]
UNKNOWN = ["/nope", "/v1/nope", "/_error/400"]
pytestmark = pytest.mark.timeout(300)


def json_error_problem(body: bytes) -> str | None:
    try:
        error = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return f"not the JSON error shape: {body[:120]!r}"
    if set(error) != {"message", "type", "param"} or error["type"] not in ERROR_TYPES:
        return f"not the JSON error shape: {error}"
    return None


def problem(raw: bytes, *, head: bool = False) -> str | None:
    """What breaks the contract in a raw answer; None when nothing does."""
    if not raw:
        return "closed without an answer"
    if not raw.startswith(b"HTTP/1."):
        # HTTP/0.9 has no status line: the whole answer must be the JSON error.
        return json_error_problem(raw)
    response = raw_http.parse(raw)
    kind = response.headers.get("content-type", "")
    if response.status >= 500:
        return f"{response.status} for client input: {response.body[:120]!r}"
    if response.status >= 400 and not kind.startswith("application/json"):
        return f"{response.status} as {kind!r}: {response.body[:120]!r}"
    if head and response.body:
        return f"HEAD answered with a body: {response.body[:120]!r}"
    if response.status >= 400 and not head:
        return json_error_problem(response.body)
    return None


def exchange(url: str, payload: bytes) -> bytes:
    """The raw answer to `payload`, up to the server's close; what came before a timeout."""
    received = b""
    with socket.create_connection(raw_http.address(url), timeout=20) as conn:
        conn.sendall(payload)
        try:
            while chunk := conn.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received


def sweep(url: str, cases: dict[str, bytes], *, head: bool = False) -> dict[str, str]:
    """Every case's contract problem, by case; {} when every answer keeps the contract."""
    found = {name: problem(exchange(url, payload), head=head) for name, payload in cases.items()}
    return {name: issue for name, issue in found.items() if issue}


def api_paths(url: str) -> dict[str, set[str]]:
    """Every documented path with its methods, from the stack's own /openapi.json."""
    document = requests.get(url + "/openapi.json", timeout=10).json()
    return {path: set(operations) for path, operations in document["paths"].items()}


def targets(url: str) -> list[str]:
    """A request target for every route, the page's files and unknown paths."""
    return [CHEAP if path == "/generate" else path for path in api_paths(url)] + PAGE + UNKNOWN


# Request lines: versions nginx serves (1.x), versions it must refuse with a 4xx (2.0 and up,
# 0.x, malformed), and no version at all (HTTP/0.9).
VERSIONS = [
    "HTTP/1.0", "HTTP/1.1", "HTTP/1.9", "HTTP/1.10", "HTTP/01.1", "HTTP/0.9", "HTTP/0.1",
    "HTTP/2", "HTTP/2.0", "HTTP/3.0", "HTTP/9.9", "HTTP/10.0", "HTTP/1", "HTTP/", "HTTP/a.b",
    "http/1.1", "HTTP/1.1 extra", "HTTP/1.1\t", "",
]  # fmt: skip
# Bytes a client may put raw into a target: a line feed ends an HTTP/0.9 request there.
RAW_BYTES = ["\n", "\r", "\r\n", "\t", "\x00", "\x0b", "\x0c", "\x1b", "\x7f", " ", "\x80", "\xff"]


def request_line(method: str, target: str, version: str) -> bytes:
    line = f"{method} {target} {version}" if version else f"{method} {target}"
    return (line + "\r\nHost: localhost\r\nConnection: close\r\n\r\n").encode("latin-1")


def test_request_lines_of_any_version_keep_the_contract(serving_stack):
    cases = {
        f"{method} {target} {version!r}": request_line(method, target, version)
        for method, target, version in itertools.product(
            ["GET", "POST"], targets(serving_stack.url), VERSIONS
        )
    }
    assert sweep(serving_stack.url, cases) == {}


def test_raw_bytes_in_the_target_keep_the_contract_and_run_nothing(serving_stack):
    tokens = generated_tokens(serving_stack.url)
    cases = {}
    for byte, target in itertools.product(RAW_BYTES, targets(serving_stack.url)):
        # A line feed early in the target: anything after it is not part of an HTTP/0.9 request.
        raw = f"{target}{'&' if '?' in target else '?'}a={byte}b"
        cases[f"{raw!r}"] = request_line("GET", raw, "HTTP/1.1")
    assert sweep(serving_stack.url, cases) == {}
    assert generated_tokens(serving_stack.url) == tokens, "a malformed request line ran"


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/3.0", "HTTP/9.9"])
def test_a_later_http_version_is_a_400_not_a_505(serving_stack, version):
    answer = raw_http.parse(exchange(serving_stack.url, request_line("GET", "/healthz", version)))
    assert answer.status == 400, answer
    assert "use HTTP/1.1 or HTTP/1.0" in answer.json()["error"]["message"]


def test_http_0_9_and_a_raw_line_feed_are_refused_with_the_json_error_alone(serving_stack):
    tokens = generated_tokens(serving_stack.url)
    http_0_9 = b"GET /generate?prefix=Ash&length=1\r\n"
    for payload in [http_0_9, request_line("GET", "/generate?prefix=a\nb", "HTTP/1.1")]:
        error = json.loads(exchange(serving_stack.url, payload))["error"]
        assert error["type"] == "invalid_request" and "HTTP/0.9" in error["message"], error
    assert generated_tokens(serving_stack.url) == tokens


# Transfer codings: nginx reads only chunked; anything else (gzip, identity, lists) is a 400, not
# its HTML 501. The body is always valid chunked framing, so no case leaves nginx waiting.
CODINGS = [
    "chunked", "Chunked", "CHUNKED", "gzip", "gzip, chunked", "chunked, gzip", "identity",
    "identity, chunked", "deflate", "compress", "br", "x-unknown", "chunked;ext=1",
    "chunked, chunked", "", " chunked", "chunked\t",
]  # fmt: skip
JSON_PIECES = [b'{"prefix": "Ash", "le', b'ngth": 1', b"}"]
CHUNKED_BODY = (
    b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in JSON_PIECES) + b"0\r\n\r\n"
)
# Chunk framing and Content-Length values, each with the bytes that make it whole.
FRAMINGS = {
    "bad chunk size": b"zz\r\n{}\r\n0\r\n\r\n",
    "chunk size overflow": b"ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
    "negative chunk size": b"-2\r\n{}\r\n0\r\n\r\n",
    "chunk extension": b"2;name=value\r\n{}\r\n0\r\n\r\n",
    "trailer": b"2\r\n{}\r\n0\r\nX-Trailer: 1\r\n\r\n",
    "bare LF framing": b"2\n{}\n0\n\n",
}
LENGTHS = ["-1", "+2", "2.0", "1e1", "0x2", "2, 2", "2,3", " 2", "9" * 30, "", "\xb2"]
BODY_ROUTES = ["/generate", "/v1/completions", "/index.html", "/healthz"]


def chunked_post(path: str, coding: str, body: bytes, *extra) -> bytes:
    headers = [("Content-Type", "application/json"), ("Transfer-Encoding", coding), *extra]
    return http("POST", path, headers=headers) + body


def test_transfer_codings_and_lengths_keep_the_contract(serving_stack):
    cases = {}
    for path in BODY_ROUTES:
        for coding in CODINGS:
            cases[f"{path} TE {coding!r}"] = chunked_post(path, coding, CHUNKED_BODY)
            with_length = ("Content-Length", str(len(CHUNKED_BODY)))
            cases[f"{path} TE {coding!r} + CL"] = chunked_post(
                path, coding, CHUNKED_BODY, with_length
            )
        for name, body in FRAMINGS.items():
            cases[f"{path} {name}"] = chunked_post(path, "chunked", body)
        for length in LENGTHS:
            headers = [("Content-Type", "application/json"), ("Content-Length", length)]
            cases[f"{path} CL {length[:12]!r}"] = http("POST", path, headers=headers) + b"{}"
        two = [("Content-Length", "2"), ("Content-Length", "3")]
        cases[f"{path} two lengths"] = http("POST", path, headers=two) + b"{} "
    assert sweep(serving_stack.url, cases) == {}


@pytest.mark.parametrize("coding", ["gzip", "gzip, chunked", "identity"])
def test_a_transfer_coding_other_than_chunked_is_a_json_400(serving_stack, coding):
    answer = raw_http.parse(exchange(serving_stack.url, chunked_post("/generate", coding, b"{}")))
    assert answer.status == 400, answer
    assert "Transfer-Encoding" in answer.json()["error"]["message"]


def test_chunked_bodies_are_served(serving_stack):
    payload = chunked_post("/generate", "chunked", CHUNKED_BODY)
    answer = raw_http.parse(exchange(serving_stack.url, payload))
    assert answer.status == 200, answer
    assert answer.json()["samples"][0]["tokens"] == 1


# Conditional and range headers: they apply to the page's files (the API's answers carry no
# validators). A precondition that fails is a JSON 412; the page ignores Range (always whole).
OLD, FUTURE = "Mon, 01 Jan 1990 00:00:00 GMT", "Fri, 01 Jan 2100 00:00:00 GMT"
RANGES = [
    "bytes=0-0", "bytes=0-1,2-3", "bytes=999999999-", "bytes=5-1", "bytes=-0", "bytes=-1",
    "bytes=0-" + "9" * 30, "bytes=-" + "9" * 30, "bytes=", "items=0-1", "garbage",
    "bytes=" + ",".join(["0-0"] * 200),
]  # fmt: skip


def conditions(etag: str, modified: str) -> list[tuple[str, str]]:
    values = ["*", '"nope"', etag, "W/" + etag, "garbage", OLD, FUTURE, modified, ""]
    names = ["If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range"]
    return [*itertools.product(names, values), *(("Range", value) for value in RANGES)]


def test_conditional_and_range_headers_keep_the_contract(serving_stack):
    page = requests.get(serving_stack.url + "/", timeout=10)
    etag, modified = page.headers["ETag"], page.headers["Last-Modified"]
    cases = {}
    for target in [*PAGE, "/healthz", CHEAP, "/nope"]:
        for name, value in conditions(etag, modified):
            cases[f"{target} {name}: {value[:30]}"] = http("GET", target, headers=[(name, value)])
            both = [("Range", "bytes=0-0"), (name, value)]
            cases[f"{target} Range + {name}: {value[:30]}"] = http("GET", target, headers=both)
    assert sweep(serving_stack.url, cases) == {}


@pytest.mark.parametrize(
    ("header", "value"),
    [("If-Match", '"nope"'), ("If-Unmodified-Since", OLD)],
)
def test_a_failed_precondition_on_the_page_is_a_json_412(serving_stack, header, value):
    answer = requests.get(serving_stack.url + "/", headers={header: value}, timeout=10)
    assert answer.status_code == 412
    assert answer.json()["error"]["type"] == "invalid_request"


@pytest.mark.parametrize("value", ["bytes=0-9", "bytes=999999999-", "bytes=5-1"])
def test_the_page_ignores_range_and_is_sent_whole(serving_stack, value):
    whole = requests.get(serving_stack.url + "/", timeout=10)
    ranged = requests.get(serving_stack.url + "/", headers={"Range": value}, timeout=10)
    assert ranged.status_code == 200 and ranged.content == whole.content


# HEAD on every route: the status and headers GET would get, no body, and nothing generated.
QUERIES = ["", "?length=1&prefix=Ash", "?length=1&prefix=Ash&stream=true", "?length=abc", "?x=1"]


def test_head_answers_as_get_would_on_every_route_without_generating(serving_stack):
    url = serving_stack.url
    paths = [*api_paths(url), *PAGE, *UNKNOWN]
    targets_ = [path + query for path in paths for query in QUERIES]
    got = {target: requests.get(url + target, timeout=30).status_code for target in targets_}
    tokens = generated_tokens(url)
    cases = {target: http("HEAD", target) for target in targets_}
    assert sweep(url, cases, head=True) == {}
    heads = {target: requests.head(url + target, timeout=30).status_code for target in targets_}
    assert generated_tokens(url) == tokens, "a HEAD request generated text"
    assert {t: (got[t], heads[t]) for t in targets_ if got[t] != heads[t]} == {}


# Integers of any size: Python's int() refuses strings over 4,300 digits, which must not be a 500
# anywhere. Every integer parameter the document lists, in the query and in JSON bodies.
INTEGER_TEXTS = [
    "-0", "-1", "00", "01", "0" * 5000 + "1", "1" + "0" * 18, "1" + "0" * 19, "1" + "0" * 4299,
    "1" + "0" * 4300, "9" * 5000, "-" + "9" * 5000, "9" * 20_000,
]  # fmt: skip
JSON_NUMBERS = [
    *INTEGER_TEXTS, "1.0", "1e400", "-1e400", "1E+999999", "-0.0", "0e0", "1" + "0" * 400 + ".0",
]  # fmt: skip


def integer_parameters(url: str) -> dict[str, list[str]]:
    """Each route's integer parameters: 'GET /generate' → query names; 'POST …' → JSON keys."""
    document = requests.get(url + "/openapi.json", timeout=10).json()
    found = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            query = {p["name"]: p["schema"] for p in operation.get("parameters", [])}
            body = operation.get("requestBody", {}).get("content", {})
            schema = body.get("application/json", {}).get("schema", {})
            named = {**query, **schema.get("properties", {})}
            names = [name for name, s in named.items() if "integer" in str(s.get("type"))]
            if names:
                found[f"{method.upper()} {path}"] = names
    return found


BASE_BODY = {"/generate": '"prefix": "Ash", "length": 1', "/v1/completions": '"max_tokens": 1'}


def test_integers_of_any_size_keep_the_contract(serving_stack):
    cases = {}
    for route, names in integer_parameters(serving_stack.url).items():
        assert names, route
        method, path = route.split()
        texts = INTEGER_TEXTS if method == "GET" else JSON_NUMBERS
        for name, text in itertools.product(names, texts):
            label = f"{route} {name}={text[:12]}…({len(text)})"
            if method == "GET":
                params = {"prefix": "Ash", "length": "1", name: text}
                cases[label] = http("GET", f"{path}?{urlencode(params)}")
            else:
                base = BASE_BODY[path].replace(f'"{name}": 1', "").strip(", ")
                body = "{" + ", ".join(filter(None, [base, f'"{name}": {text}'])) + "}"
                headers = [("Content-Type", "application/json")]
                cases[label] = http("POST", path, body=body.encode(), headers=headers)
    assert len(cases) > 50, cases.keys()
    assert sweep(serving_stack.url, cases) == {}


@pytest.mark.parametrize("name", ["length", "top_k", "seed", "nsamples"])
def test_an_integer_of_more_than_4300_digits_in_the_query_is_a_400(serving_stack, name):
    params = {"prefix": "Ash", name: "1" + "0" * 5000}
    answer = requests.get(serving_stack.url + "/generate", params=params, timeout=30)
    assert answer.status_code == 400, answer.text[:300]
    assert answer.json()["error"]["param"] == name


def generated_tokens(url: str) -> float:
    """Tokens generated so far, summed over the models."""
    text = requests.get(url + "/metrics", timeout=10).text
    found = re.findall(r"^ghost_generated_tokens_total\{[^}]*\} (\S+)$", text, re.MULTILINE)
    return sum(float(value) for value in found)
