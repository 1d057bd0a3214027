"""GET/POST /generate: the native generation endpoint, JSON or a stream of events."""

import logging

from flask import Blueprint, jsonify, request

from api import sse
from api.errors import invalid
from api.request_parsing import parse
from api.routes.generation_start import start
from api.routes.request_input import json_object, query_values, request_bounds
from serving.generation import Generation

log = logging.getLogger(__name__)
bp = Blueprint("generate", __name__)


@bp.route("/generate", methods=["GET", "POST"])
def generate():
    query = request.method == "GET"
    if not query and request.args:
        name = next(iter(request.args))
        raise invalid(f"POST takes its parameters in the JSON body, not the query ({name})", name)
    raw = query_values(request.args) if query else json_object()
    parsed = parse(raw, bounds=request_bounds(), query=query)
    model, run = start(parsed)
    if parsed.stream:
        return sse.response(_events(run), on_close=run.close)
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
