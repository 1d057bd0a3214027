"""Server-sent events: a streaming Flask response that always gives its resources back."""

import json

from flask import Response

from api.errors import ApiError, from_core
from serving.errors import ServingError
from serving.generation import Generation


def event(data) -> str:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n"


def error_event(error: Exception) -> str:
    """An error after the 200 went out can only travel as an event, in the one error shape."""
    if isinstance(error, ServingError):
        error = from_core(error)
    elif not isinstance(error, ApiError):
        error = ApiError("internal server error; the server log has details", type="internal")
    return event(error.body())


def response(events, run: Generation) -> Response:
    """The stream of `events`; `run` is closed when the response ends, even if the client left
    before the first event (a generator that never started would skip its `finally`). A stream
    closed before its last event lost its client (uWSGI closes it after a failed write): that
    is counted as the generation's client_gone."""
    ended = False

    def watched():
        nonlocal ended
        try:
            yield from events
        except Exception:
            ended = True  # failed rather than left (uWSGI logs it)
            raise
        ended = True

    def closed():
        if not ended:
            run.observer.rejected("client_gone")
        run.close()

    streamed = Response(watched(), mimetype="text/event-stream")
    streamed.headers["Cache-Control"] = "no-cache"
    streamed.headers["X-Accel-Buffering"] = "no"  # nginx: pass events through unbuffered
    streamed.call_on_close(closed)
    return streamed
