"""A small website on 127.0.0.1 for crawl tests: static routes, scripted failures, held replies.

Everything the server saw is recorded (path with query, User-Agent, Authorization), so tests can
assert what was fetched and how often. A reply can be held on an event, so a test kills a crawl
while a known request is in flight instead of sleeping and hoping.
"""

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOLD_LIMIT_S = 60  # a held reply is released at the latest after this, so nothing hangs


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict = field(default_factory=dict)


@dataclass
class Hit:
    path: str  # with query string
    user_agent: str
    authorization: str | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class Hold:
    """Holds the `nth` request whose path starts with `prefix` until `release` is set."""

    prefix: str
    nth: int
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    seen: int = 0
    path: str | None = None


class LocalSite:
    def __init__(self) -> None:
        self.routes: dict[str, object] = {}
        self.hits: list[Hit] = []
        self.failures: dict[str, list[Reply]] = {}
        self.holds: list[Hold] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        for hold in self.holds:
            hold.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def add_page(self, path: str, body: str | bytes, content_type="text/html; charset=utf-8"):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Reply(200, data, {"Content-Type": content_type})

    def add_json_route(self, path: str, answer):
        """`answer(query: dict[str, list[str]], authorization) -> Reply` for paths without query."""
        self.routes[path] = answer

    def fail_first(self, path: str, *replies: Reply) -> None:
        self.failures[path] = list(replies)

    def hold(self, prefix: str, *, nth: int) -> Hold:
        hold = Hold(prefix, nth)
        self.holds.append(hold)
        return hold

    def count(self, path: str) -> int:
        return sum(1 for hit in self.hits if hit.path == path)

    def paths(self) -> list[str]:
        return [hit.path for hit in self.hits]

    def _reply(self, path: str, authorization: str | None) -> Reply:
        split = urlsplit(path)
        with self.lock:
            failures = self.failures.get(split.path)
            if failures:
                return failures.pop(0)
        route = self.routes.get(split.path)
        if route is None:
            return Reply(404, b"<html><body>Not found</body></html>", {"Content-Type": "text/html"})
        if callable(route):
            return route(parse_qs(split.query), authorization)
        return route

    def _wait_if_held(self, path: str) -> None:
        with self.lock:
            matched = None
            for hold in self.holds:
                if path.startswith(hold.prefix) and not hold.arrived.is_set():
                    hold.seen += 1
                    if hold.seen == hold.nth:
                        hold.path = path
                        matched = hold
        if matched:
            matched.arrived.set()
            matched.release.wait(HOLD_LIMIT_S)

    def _handler_class(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                authorization = self.headers.get("Authorization")
                with site.lock:
                    site.hits.append(
                        Hit(self.path, self.headers.get("User-Agent", ""), authorization)
                    )
                site._wait_if_held(self.path)
                reply = site._reply(self.path, authorization)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the crawler was killed while this reply was held

            def log_message(self, format, *args):
                pass

        return Handler
