"""`python -m model download` against a local mirror: verified, resumable, atomic."""

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from model.download import FILES
from tests.fixtures.models import run_model_cli


class Mirror(ThreadingHTTPServer):
    """Serves `files` at /models/124M/NAME with HEAD, GET and single byte ranges. Names in
    `truncate` promise their full length but send only half and hang up."""

    def __init__(self, files: dict[str, bytes]):
        super().__init__(("127.0.0.1", 0), MirrorHandler)
        self.files = files
        self.truncate: set[str] = set()
        self.requests: list[tuple[str, str, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class MirrorHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def _body(self):
        self.server.requests.append((self.command, self.path, self.headers.get("Range")))
        name = self.path.removeprefix("/models/124M/")
        return name, self.server.files.get(name)

    def do_HEAD(self):
        _, body = self._body()
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()

    def do_GET(self):
        name, body = self._body()
        if body is None:
            self.send_error(404)
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        if name in self.server.truncate:
            payload = payload[: len(payload) // 2]
            self.close_connection = True
        self.wfile.write(payload)


@pytest.fixture
def mirror(tiny_base):
    server = Mirror({name: (tiny_base.path / name).read_bytes() for name in FILES})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_downloads_every_file_from_the_mirror(mirror, tmp_path):
    result = run_model_cli(tmp_path, "download", "124M", "--mirror", mirror.url)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "models" / "124M"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == mirror.files
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["124M"]
    again = run_model_cli(tmp_path, "download", "124M", "--mirror", mirror.url)
    assert again.returncode == 0 and "already complete" in again.stdout


def test_resumes_a_partial_file_with_a_range_request(mirror, tmp_path, monkeypatch):
    name = "model.ckpt.data-00000-of-00001"
    staging = tmp_path / "models" / ".124M.download"
    staging.mkdir(parents=True)
    half = len(mirror.files[name]) // 2
    (staging / f"{name}.part").write_bytes(mirror.files[name][:half])
    monkeypatch.setenv("GHOST_GPT2_MIRROR", mirror.url)  # the env setting, not the flag
    result = run_model_cli(tmp_path, "download", "124M")
    assert result.returncode == 0, result.stderr
    assert ("GET", f"/models/124M/{name}", f"bytes={half}-") in mirror.requests
    assert (tmp_path / "models" / "124M" / name).read_bytes() == mirror.files[name]


def test_truncated_file_fails_then_resumes(mirror, tmp_path):
    name = "model.ckpt.data-00000-of-00001"
    mirror.truncate.add(name)
    failed = run_model_cli(tmp_path, "download", "124M", "--mirror", mirror.url)
    assert failed.returncode == 2
    assert failed.stderr.startswith("error: ") and "again to resume" in failed.stderr
    assert not (tmp_path / "models" / "124M").exists()
    staging = tmp_path / "models" / ".124M.download"
    assert not (staging / name).exists()
    kept = (staging / f"{name}.part").stat().st_size
    assert 0 < kept < len(mirror.files[name])

    mirror.truncate.clear()
    mirror.requests.clear()
    resumed = run_model_cli(tmp_path, "download", "124M", "--mirror", mirror.url)
    assert resumed.returncode == 0, resumed.stderr
    assert (tmp_path / "models" / "124M" / name).read_bytes() == mirror.files[name]
    ranged = [r for r in mirror.requests if r[0] == "GET" and r[2]]
    assert ranged == [("GET", f"/models/124M/{name}", f"bytes={kept}-")]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["124M", "--mirror", "{url}/missing"], "HTTP 404"),
        (["124M", "--mirror", "http://127.0.0.1:9"], "failed"),
        (["999M"], "invalid choice"),
    ],
)
def test_bad_mirror_or_size_is_a_clear_error(mirror, tmp_path, argv, message):
    argv = [a.format(url=mirror.url) for a in argv]
    result = run_model_cli(tmp_path, "download", *argv)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "models" / "124M").exists()
