"""python -m crawler.sample_site --port N — serve the sample site on 127.0.0.1 until Ctrl-C."""

import argparse
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from crawler.sample_site.render import site_pages


def handler_for(pages: dict[str, tuple[str, bytes]], *, log_requests: bool = False):
    # Paths are compared decoded: crawlers may or may not percent-encode "(" or "é".
    by_path = {unquote(path): reply for path, reply in pages.items()}

    class SampleSiteHandler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            reply = by_path.get(unquote(urlsplit(self.path).path))
            status, (content_type, body) = (200, reply) if reply else (404, _not_found())
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            if log_requests:
                sys.stderr.write(f"sample site: {format % args}\n")

    return SampleSiteHandler


def _not_found() -> tuple[str, bytes]:
    return "text/html; charset=UTF-8", b"<html><body><p>There is no such page.</p></body></html>"


def _stop(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.sample_site", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--log", action="store_true", help="print each request on stderr")
    args = parser.parse_args(argv)
    pages = site_pages()
    try:
        server = ThreadingHTTPServer(
            (args.host, args.port), handler_for(pages, log_requests=args.log)
        )
    except OSError as exc:
        print(
            f"error: cannot listen on {args.host}:{args.port} ({exc}); pick another --port",
            file=sys.stderr,
        )
        return 2
    # A demo script may stop the server with SIGTERM (background jobs ignore SIGINT).
    signal.signal(signal.SIGTERM, _stop)
    host, port = server.server_address[:2]
    print(f"http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
