"""The nginx container's configuration, run for real by Debian's nginx in front of the real stack's
uWSGI; and the api container's health probe against that uWSGI socket.

The image's entrypoint renders the site template with envsubst, restricted to the variables that
NGINX_ENVSUBST_FILTER selects; the test does the same with the real envsubst (gettext-base), then
runs docker/nginx.conf with the container's /tmp moved to a folder of the test.
"""

import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

import stack as native_stack
from tests.deploy.deploy_files import DOCKERFILES, REPO_ROOT, parse_dockerfile

PROBE = REPO_ROOT / "docker" / "uwsgi_probe.py"
RESOLVER_STEP = REPO_ROOT / "docker" / "nginx-resolver.envsh"


def image_env(name: str) -> dict[str, str]:
    env = {}
    for ins in parse_dockerfile(DOCKERFILES[name]):
        if ins["instruction"] == "ENV":
            env.update(re.findall(r"(\w+)=(\S+)", ins["value"]))
    return env


def sourced_like_the_image(env: dict[str, str]) -> dict[str, str]:
    """The environment after the image's entrypoint sourced docker/nginx-resolver.envsh."""
    result = subprocess.run(
        ["sh", "-c", '. "$0" && env -0', str(RESOLVER_STEP)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    return dict(item.split("=", 1) for item in result.stdout.split("\0") if item)


def render_like_the_image(env: dict[str, str]) -> str:
    """envsubst over the template with the names the official entrypoint would pass it."""
    env = sourced_like_the_image(env)
    selected = [
        name for name in env if re.search(image_env("nginx")["NGINX_ENVSUBST_FILTER"], name)
    ]
    result = subprocess.run(
        [shutil.which("envsubst") or "envsubst", " ".join(f"${{{name}}}" for name in selected)],
        input=native_stack.SITE_TEMPLATE.read_text(),
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    return result.stdout


@pytest.fixture
def container_dir():
    # nginx's workers drop root privileges: their temp folders must be reachable by them.
    folder = Path(tempfile.mkdtemp(prefix="ghost-container-nginx-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def write_container_config(folder: Path, overrides: dict[str, str]) -> Path:
    """The container's files with its /tmp at `folder`; returns the main config's path."""
    # The image copies the page to a folder of its own; nginx's workers may not enter the checkout.
    shutil.copytree(REPO_ROOT / "frontend", folder / "page", dirs_exist_ok=True)
    env = {
        **native_stack.read_env_file(native_stack.NGINX_DEFAULTS),
        "GHOST_FRONTEND_ROOT": str(folder / "page"),
        "GHOST_NGINX_TEMP_DIR": str(folder),
        # Present in every container's environment; the filter must keep envsubst off them.
        "PATH": "/usr/bin:/bin",
        "HOME": str(folder),
        **overrides,
    }
    (folder / "ghostwriter.conf").write_text(render_like_the_image(env))
    main = (REPO_ROOT / "docker" / "nginx.conf").read_text().replace("/tmp/", f"{folder}/")
    (folder / "nginx.conf").write_text(main)
    return folder / "nginx.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if found is None:
        pytest.fail("nginx is not installed: run `make install`")
    return found


def test_rendering_keeps_nginx_variables_and_fills_every_ghost_variable(container_dir):
    conf = write_container_config(container_dir, {}).with_name("ghostwriter.conf").read_text()
    assert "${GHOST_" not in conf
    for nginx_variable in ("$binary_remote_addr", "$ghost_api", "$request_uri", "$status"):
        assert nginx_variable in conf
    assert "set $ghost_api api:3031;" in conf
    # `local`: the nameservers of the container's resolv.conf (here, this machine's).
    nameservers = re.findall(r"^nameserver\s+(\S+)", Path("/etc/resolv.conf").read_text(), re.M)
    assert f"resolver {nameservers[0]}" in conf and "valid=10s" in conf


def test_container_config_passes_nginx_t(container_dir):
    main = write_container_config(container_dir, {})
    check = subprocess.run(
        [nginx_binary(), "-t", "-p", str(container_dir), "-c", str(main)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def container_nginx(container_dir, serving_stack):
    """The container's nginx config serving on a free port, its upstream the stack's uWSGI."""
    port = free_port()
    main = write_container_config(
        container_dir,
        {
            "GHOST_NGINX_LISTEN": f"127.0.0.1:{port}",
            "GHOST_UWSGI_ADDRESS": serving_stack.uwsgi_address,
        },
    )
    argv = [nginx_binary(), "-p", str(container_dir), "-c", str(main), "-g", "daemon off;"]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_listening(server, port)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_until_listening(server: subprocess.Popen, port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as conn:
            if conn.connect_ex(("127.0.0.1", port)) == 0:
                return
        try:
            server.wait(timeout=0.05)  # doubles as the pause between attempts
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(f"nginx exited: {server.stderr.read().decode()}")
    raise AssertionError(f"nginx is not listening on {port} after {timeout_s} s")


@pytest.mark.timeout(180)
def test_container_nginx_serves_the_page_and_the_api(container_nginx):
    page = requests.get(container_nginx + "/", timeout=10)
    assert page.status_code == 200
    assert "<title>Ghostwriter</title>" in page.text
    assert (
        requests.get(container_nginx + "/app.js", timeout=10)
        .headers["Content-Type"]
        .startswith("application/javascript")
    )
    assert requests.get(container_nginx + "/readyz", timeout=10).status_code == 200
    missing = requests.get(container_nginx + "/no-such-page", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found"


@pytest.mark.timeout(180)
def test_container_nginx_streams_generation(container_nginx):
    body = {"prefix": "Ash", "length": 8, "stream": True}
    with requests.post(container_nginx + "/generate", json=body, stream=True, timeout=60) as reply:
        assert reply.status_code == 200
        assert reply.headers["Content-Type"].startswith("text/event-stream")
        events = [
            line for line in reply.iter_lines(decode_unicode=True) if line.startswith("data:")
        ]
    assert len(events) >= 2


def run_probe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROBE), *args], capture_output=True, text=True, timeout=30
    )


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("path", "status", "exit_code"),
    [("/readyz", 200, 0), ("/healthz", 200, 0), ("/no-such-route", 404, 1)],
)
def test_probe_speaks_uwsgi_to_the_api_socket(serving_stack, path, status, exit_code):
    result = run_probe(path, "--address", serving_stack.uwsgi_address)
    assert result.returncode == exit_code, result.stderr
    assert f"HTTP {status}" in result.stdout


def test_probe_fails_cleanly_when_nothing_listens():
    result = run_probe("/readyz", "--address", f"127.0.0.1:{free_port()}", "--timeout", "2")
    assert result.returncode == 1
    assert "refused" in result.stderr.lower()
