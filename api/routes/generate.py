"""GET/POST /generate: the native generation endpoint, JSON or a stream of events."""

import logging

from flask import Blueprint, jsonify, request

from api import sse
from api.errors import invalid
from api.generation import Run, begin
from api.sampling import generate_args
from api.service import current

log = logging.getLogger(__name__)
bp = Blueprint("generate", __name__)

REPEATABLE = {"stop"}  # GET /generate?stop=a&stop=b


def query_values(args) -> dict:
    values = {}
    for name in args:
        given = args.getlist(name)
        if len(given) > 1 and name not in REPEATABLE:
            raise invalid(f"{name} is given {len(given)} times; give it once", name)
        values[name] = given if name in REPEATABLE else given[0]
    return values


def json_object() -> dict:
    if not request.get_data():
        return {}
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise invalid('the body must be a JSON object of parameters, e.g. {"prefix": "…"}')
    return body


@bp.route("/generate", methods=["GET", "POST"])
def generate():
    service = current()
    from_query = request.method == "GET"
    if not from_query and request.args:
        name = next(iter(request.args))
        raise invalid(f"POST takes its parameters in the JSON body, not the query ({name})", name)
    raw = query_values(request.args) if from_query else json_object()
    args = generate_args(
        raw, from_query=from_query, max_prefix_chars=service.settings.max_prefix_chars
    )
    model = service.registry.get(args.model)
    run = begin(
        model,
        args.prefix,
        args.params,
        stream=args.stream,
        limits=service.limits,
        metrics=service.metrics,
    )
    run.wait_started()
    if args.stream:
        return sse.response(_events(run), on_close=run.close)
    samples = run.complete()
    return jsonify(
        model=model.name,
        prefix=args.prefix,
        samples=[
            {"text": s.text, "finish_reason": s.finish_reason, "tokens": s.tokens} for s in samples
        ],
        usage=run.usage(),
        timing_ms=run.timing_ms(),
    )


def _events(run: Run):
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
