"""Fixtures for the API tests: apps over the tiny exported model, clients, a live server."""

import threading
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

from api import create_app

LOAD_TIMEOUT_S = 60


def settings_for(serving_model, **overrides) -> dict:
    return {"models_dir": serving_model.models_dir, **overrides}


@pytest.fixture
def make_app(request):
    """make_app(**settings) → a loaded, warm app over the float32 tiny model; closed after.

    With engine="tensorflow" it serves the tiny checkpoint itself (the reference engine).
    """
    apps = []

    def make(*, wait_ready: bool = True, **overrides):
        if overrides.get("engine") == "tensorflow":
            checkpoint = request.getfixturevalue("tiny_checkpoint")
            app = create_app(settings_for(checkpoint, **overrides))
        else:
            app = create_app(
                settings_for(request.getfixturevalue("tiny_serving_model"), **overrides)
            )
        apps.append(app)
        if wait_ready:
            assert service(app).registry.wait_ready(LOAD_TIMEOUT_S), "model did not load"
        return app

    yield make
    for app in apps:
        service(app).registry.close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


def service(app):
    return app.extensions["ghostwriter"]


@contextmanager
def live_server(app):
    """The app over real HTTP on 127.0.0.1 (a free port), one thread per request."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
