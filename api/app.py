"""`create_app(test_config=None)`, the Flask application factory (`from api import create_app`).

Creating the app reads the settings and finds the model folders; the models themselves load in
the background, started by the WSGI entry point (api.wsgi) or the first request (see
serving.registry); importing this module loads nothing.
"""

import time
from urllib.parse import unquote_to_bytes

from flask import Flask, g, request

from api import errors, service
from api.routes import generate, openai_compat, service_info
from serving import config


def create_app(test_config=None) -> Flask:
    app = Flask(__name__)
    app.json.ensure_ascii = False  # prefixes and text in any script, as written
    app.json.sort_keys = False
    state = service.build(config.load(test_config))
    app.extensions[service.EXTENSION] = state
    errors.register(app)
    app.before_request(reject_undecodable_query)
    for blueprint in (generate.bp, openai_compat.bp, service_info.bp):
        app.register_blueprint(blueprint)
    _count_requests(app, state)
    return app


def reject_undecodable_query():
    """werkzeug raises on raw invalid bytes in the query (a 500) and keeps an invalid escape such
    as %FF as the literal text "%FF": neither is what the client meant, so it gets a 400."""
    try:
        unquote_to_bytes(request.query_string).decode("utf-8")
    except UnicodeDecodeError:
        raise errors.invalid("the query string is not UTF-8; percent-encode UTF-8 text") from None


def _count_requests(app: Flask, state: service.Service) -> None:
    @app.before_request
    def start_clock():
        g.started = time.perf_counter()
        state.registry.start_loading()

    @app.after_request
    def count(response):
        route = request.url_rule.rule if request.url_rule else "unmatched"
        started = g.get("started", time.perf_counter())
        state.metrics.requests.labels(route, str(response.status_code)).inc()

        def observe():  # at close: a stream lasts until its last event
            state.metrics.request_duration.labels(route).observe(time.perf_counter() - started)

        response.call_on_close(observe)
        return response
