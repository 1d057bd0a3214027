"""HTTP over a bare socket, for what `requests` will not send or time: invalid bytes in the
request line, clients that trickle or stall, and the arrival time of each piece of a stream."""

import json
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self):
        return json.loads(self.body)


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port


def dechunk(body: bytes) -> bytes:
    out, rest = b"", body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2 :]
    return out


def parse(raw: bytes) -> RawResponse:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return RawResponse(int(lines[0].split()[1]), headers, body)


def read_until_closed(conn: socket.socket) -> bytes:
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    return received


def request(url: str, payload: bytes, *, pieces: int = 1, pause_s: float = 0.0, timeout=20.0):
    """Sends `payload` (a whole HTTP request, with `Connection: close`) in `pieces` parts
    `pause_s` apart, like a slow client, and returns the parsed response."""
    with socket.create_connection(address(url), timeout=timeout) as conn:
        step = -(-len(payload) // pieces)
        for start in range(0, len(payload), step):
            if start:
                time.sleep(pause_s)  # the client's own slowness, not a wait for the server
            conn.sendall(payload[start : start + step])
        return parse(read_until_closed(conn))


def timed_chunks(url: str, payload: bytes, *, timeout=20.0) -> list[tuple[float, bytes]]:
    """Sends `payload`, then returns every piece of the answer with its arrival time (seconds
    after the request was sent), until the server closes the connection."""
    arrivals = []
    with socket.create_connection(address(url), timeout=timeout) as conn:
        conn.sendall(payload)
        sent = time.monotonic()
        while chunk := conn.recv(65536):
            arrivals.append((time.monotonic() - sent, chunk))
    return arrivals


def http(method: str, path: str, *, body: bytes = b"", headers=(), version="HTTP/1.1") -> bytes:
    """A whole request's bytes; `headers` as (name, value) pairs; Connection: close."""
    lines = [f"{method} {path} {version}", "Host: localhost", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body


def get(path: str, *, host="localhost") -> bytes:
    """A GET request's bytes; `path` may hold any bytes, valid UTF-8 or not."""
    return (
        b"GET "
        + path.encode("latin-1")
        + b" HTTP/1.1\r\nHost: "
        + host.encode()
        + (b"\r\nConnection: close\r\n\r\n")
    )
