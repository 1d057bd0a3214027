"""The container path of the nginx config: the API named by a service name that nginx resolves at
request time, and every replica the name resolves to gets requests (`--scale api=N`)."""

import re
import signal
import socket
import subprocess
import time

import pytest
import requests

from stack import REPO_ROOT, stop_process
from tests.fixtures.stack import access_log_when, make_stack
from tests.stack.dns_responder import DnsResponder

REPLICAS = ["127.0.0.1", "127.0.0.2"]  # both on loopback


def wait_listening(host: str, port: int, timeout: float = 30) -> None:
    """Until the replica's uWSGI accepts connections: nginx would take a refused one as down
    and send every request to the other."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def served_404s(access_log: str, replica: str) -> int:
    """nginx's access log names the replica (upstream=ADDRESS) that answered each request."""
    pattern = rf'"GET /v1/no-such-route HTTP/1.1" 404 .* upstream={re.escape(replica)}$'
    return len(re.findall(pattern, access_log, re.M))


@pytest.mark.timeout(90)
def test_requests_are_spread_over_every_replica_of_the_service_name(tiny_serving_model, tmp_path):
    stack = make_stack(tiny_serving_model)
    port = stack.uwsgi_address.rpartition(":")[2]
    with DnsResponder("api.test", REPLICAS) as dns:
        # As in compose: nginx knows a name and a DNS server, not the replicas' addresses.
        stack.nginx_env.update(
            GHOST_UWSGI_ADDRESS=f"api.test:{port}", GHOST_NGINX_RESOLVER=dns.address
        )
        second_log = tmp_path / "second-replica.log"
        with second_log.open("wb") as log:
            second = subprocess.Popen(
                stack.uwsgi_command(),
                cwd=REPO_ROOT,
                env=stack.uwsgi_environment(f"{REPLICAS[1]}:{port}"),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_listening(REPLICAS[1], int(port))
            with stack, requests.Session() as session:
                # A 404 from the app needs no model.
                for _ in range(40):
                    response = session.get(stack.url + "/v1/no-such-route", timeout=10)
                    assert response.json()["error"]["type"] == "not_found"
                access_log = access_log_when(
                    stack, lambda text: text.count('"GET /v1/no-such-route') >= 40
                )
        finally:
            stop_process(second, signal.SIGTERM)
        first_count, second_count = (served_404s(access_log, f"{r}:{port}") for r in REPLICAS)
    assert "api.test" in dns.queries
    assert first_count + second_count == 40
    assert first_count > 0 and second_count > 0, (first_count, second_count)
