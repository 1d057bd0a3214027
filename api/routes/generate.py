"""GET/POST /generate: the native generation endpoint, JSON or a stream of events."""

import logging

from flask import Blueprint, jsonify, request

from api import sse
from api.errors import invalid
from api.generation import Generation, begin
from api.request_parsing import parse
from api.routes.request_input import bounds, client, json_object, query_values
from api.service import current

log = logging.getLogger(__name__)
bp = Blueprint("generate", __name__)


@bp.route("/generate", methods=["GET", "POST"])
def generate():
    service = current()
    query = request.method == "GET"
    if not query and request.args:
        name = next(iter(request.args))
        raise invalid(f"POST takes its parameters in the JSON body, not the query ({name})", name)
    raw = query_values(request.args) if query else json_object()
    parsed = parse(raw, bounds=bounds(), query=query)
    model = service.registry.get(parsed.model)
    run = begin(model, parsed, limits=service.limits, metrics=service.metrics, client=client())
    run.wait_started()
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
        for sample, text in run.chunks():
            yield sse.event({"index": sample, "text": text})
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
