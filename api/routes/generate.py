"""GET/POST /generate: the native generation endpoint, JSON or a stream of events."""

import logging

from flask import Blueprint, Response, jsonify, request

from api import sse
from api.request_parsing import parse
from api.routes.generation_start import start
from api.routes.request_input import json_object, query_only, request_bounds
from serving.generation import Generation

log = logging.getLogger(__name__)
bp = Blueprint("generate", __name__)


@bp.route("/generate", methods=["GET", "POST"])
def generate():
    query = request.method in ("GET", "HEAD")
    raw = query_only() if query else json_object()
    parsed = parse(raw, bounds=request_bounds(), query=query)
    if request.method == "HEAD":
        # GET's status and type for these parameters, without running a generation (so
        # without the 400 of a prefix too long for the model, or a busy server's 503), and
        # no Content-Length: GET's length is not known.
        kind = "text/event-stream" if parsed.stream else "application/json"
        return Response(iter(()), mimetype=kind)
    model, run = start(parsed)
    if parsed.stream:
        return sse.response(_events(run), run)
    samples = run.complete()
    return jsonify(
        model=model.name,
        prefix=parsed.prefix,
        samples=[
            {"text": s.text, "finish_reason": s.finish_reason, "tokens": s.tokens} for s in samples
        ],
        usage=run.usage(),
        timing_ms=run.timing_ms(),
    )


def _events(run: Generation):
    """{index, text} events, then exactly one of: the final event ("done": true) or an error
    event. A stream that ends with neither was cut (the worker died): clients must treat it
    as failed."""
    try:
        for index, text in run.chunks():
            yield sse.event({"index": index, "text": text})
    except Exception as error:
        log.exception("generation failed while streaming")
        yield sse.error_event(error)
        return
    samples = run.samples
    yield sse.event(
        {
            "done": True,
            "model": run.model.name,
            "finish_reason": samples[0].finish_reason,
            "samples": [
                {"index": i, "finish_reason": s.finish_reason, "tokens": s.tokens}
                for i, s in enumerate(samples)
            ],
            "usage": run.usage(),
            "timing_ms": run.timing_ms(),
        }
    )
