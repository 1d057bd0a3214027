"""One api replica's own /metrics, asked directly on its uWSGI socket (nginx would pick a replica).

Rootful podman's bridge network is reachable from the host, so the test speaks the uwsgi protocol
to the container's address with docker/uwsgi_probe.py's request encoder: the same bytes the
container's healthcheck sends.
"""

import importlib.util
import re
import socket

from tests.compose.podman_host import inspect
from tests.deploy.deploy_files import REPO_ROOT

UWSGI_PORT = 3031
_spec = importlib.util.spec_from_file_location("uwsgi_probe", REPO_ROOT / "docker/uwsgi_probe.py")
uwsgi_probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(uwsgi_probe)


def container_address(name: str) -> str:
    networks = inspect(name)["NetworkSettings"]["Networks"]
    return next(iter(networks.values()))["IPAddress"]


def uwsgi_get(host: str, path: str, *, timeout: float = 10.0) -> bytes:
    """The whole HTTP response to one GET (uWSGI closes the connection after it)."""
    with socket.create_connection((host, UWSGI_PORT), timeout=timeout) as conn:
        conn.sendall(uwsgi_probe.encode_request(path, host=host, port=UWSGI_PORT))
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def generate_requests_served(name: str) -> int:
    """Requests the replica answered on /generate, from its ghost_requests counter."""
    response = uwsgi_get(container_address(name), "/metrics").decode()
    assert uwsgi_probe.status_of(response.encode()) == 200, response[:200]
    pattern = r'^ghost_requests_total\{[^}]*route="[^"]*generate[^"]*"[^}]*\} (\S+)$'
    return int(sum(float(value) for value in re.findall(pattern, response, re.MULTILINE)))
