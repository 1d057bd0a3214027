"""Health probe for the api container: one GET over the uwsgi protocol, exit 0 on HTTP 200.

The api container listens only on uWSGI's binary socket (the one nginx's `uwsgi_pass` talks to),
and python:3.11-slim has no curl, so the probe speaks that protocol itself with the standard
library. Usage: `python uwsgi_probe.py [PATH] [--address HOST:PORT] [--timeout S]`; the address
defaults to uWSGI's own socket setting, GHOST_UWSGI_SOCKET (as api/uwsgi.ini reads it).
"""

import argparse
import os
import socket
import struct
import sys

REQUEST_TIMEOUT_S = 5.0
UWSGI_DEFAULT_SOCKET = "127.0.0.1:3031"  # api/uwsgi.ini's socket when GHOST_UWSGI_SOCKET is unset


def encode_request(path: str, *, host: str, port: int) -> bytes:
    """A uwsgi packet: header (modifier1=0, u16 size, modifier2=0) + length-prefixed CGI vars."""
    path_only, _, query = path.partition("?")
    env = {
        "REQUEST_METHOD": "GET",
        "REQUEST_URI": path,
        "PATH_INFO": path_only,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": host,
        "SERVER_PORT": str(port),
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": f"{host}:{port}",
    }
    body = b"".join(
        struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v
        for k, v in ((k.encode(), v.encode()) for k, v in env.items())
    )
    return struct.pack("<BHB", 0, len(body), 0) + body


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP response ("HTTP/1.1 200 OK\r\n...")."""
    first_line = response.split(b"\r\n", 1)[0].decode("latin-1")
    parts = first_line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response: {first_line!r}")
    return int(parts[1])


def probe(path: str, *, host: str, port: int, timeout: float = REQUEST_TIMEOUT_S) -> int:
    """Sends one request to the uWSGI socket and returns the HTTP status it answered."""
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(encode_request(path, host=host, port=port))
        response = b""
        while b"\r\n" not in response:
            chunk = conn.recv(4096)
            if not chunk:
                break
            response += chunk
    return status_of(response)


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT; an empty or wildcard host (uWSGI's `:3031`, `0.0.0.0:3031`) means this machine."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return (host if host not in ("", "0.0.0.0", "*") else "127.0.0.1"), int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="/readyz")
    default_socket = os.environ.get("GHOST_UWSGI_SOCKET") or UWSGI_DEFAULT_SOCKET
    parser.add_argument("--address", type=parse_address, default=default_socket)
    parser.add_argument("--timeout", type=float, default=REQUEST_TIMEOUT_S)
    args = parser.parse_args(argv)
    host, port = args.address
    try:
        status = probe(args.path, host=host, port=port, timeout=args.timeout)
    except (OSError, ValueError) as exc:
        print(f"probe {args.path}: {exc}", file=sys.stderr)
        return 1
    print(f"probe {args.path}: HTTP {status}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
