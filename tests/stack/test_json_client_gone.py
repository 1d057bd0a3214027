"""A JSON (non-stream) client that leaves is cancelled: nginx closes the upstream connection, the
app sees its socket hung up while the view waits for the sequences, and frees their slots.

The reference TensorFlow engine with one slot makes the request long (8 samples of 120 tokens
one after another: 960 steps, about a second here), so the leaving happens mid-generation.
"""

import socket
import threading

import pytest

from tests.fixtures.stack import make_stack, metric

pytestmark = pytest.mark.timeout(300)
WAIT_S = 60
SAMPLES, LENGTH = 8, 120


def wait_for(check, what: str) -> None:
    """Polls another process's state (no event crosses the process boundary)."""
    pause = threading.Event()
    for _ in range(int(WAIT_S / 0.05)):
        if check():
            return
        pause.wait(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def tf_stack(tiny_checkpoint):
    app_env = {"GHOST_ENGINE": "tensorflow", "GHOST_MAX_SLOTS": "1"}
    with make_stack(tiny_checkpoint, app_env=app_env) as stack:
        yield stack


def test_a_json_client_that_leaves_is_cancelled(tf_stack):
    url = tf_stack.url
    steps = "ghost_step_sequences_count"
    gone = 'ghost_rejected_requests_total{reason="client_gone"}'
    in_flight = "ghost_sequences_in_flight"
    body = f'{{"prefix": "x", "length": {LENGTH}, "nsamples": {SAMPLES}, "temperature": 0}}'
    head = (
        "POST /generate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    host, port = url.removeprefix("http://").split(":")
    before = metric(url, steps)
    with socket.create_connection((host, int(port)), timeout=WAIT_S) as sock:
        sock.sendall((head + body).encode())
        wait_for(lambda: metric(url, steps) > before + 10, "generation to start")
    wait_for(lambda: metric(url, gone) == 1, "the app to see the client gone")
    wait_for(lambda: metric(url, in_flight) == 0, "the sequences to be released")
    taken = metric(url, steps) - before
    assert taken <= (SAMPLES - 2) * LENGTH, taken  # whole samples were never generated
    assert metric(url, steps) - before == taken  # nothing more runs for it
