"""Service endpoints: /models, /info, /healthz, /readyz, /metrics, /openapi.json.

Public answers say what a client needs to send a valid request (each model's limits) and no more:
no process ids, queue depths or batching internals. /metrics has those and is for operators
(nginx lets only loopback and private networks reach it by default).
"""

from flask import Blueprint, Response, jsonify

from api.errors import ApiError
from api.openapi import document
from api.routes.request_input import model_bounds, request_bounds
from api.service import current
from serving.sampling_params import MAX_NSAMPLES, MAX_STOPS

bp = Blueprint("service", __name__)


def _public_model(name: str) -> dict:
    described = current().registry.describe(name)
    public = ("name", "ready", "quantization", "base", "step", "eval", "exported_at")
    return {**{key: described[key] for key in public}, **model_bounds(name)}


@bp.get("/models")
def models():
    registry = current().registry
    return jsonify(
        models=[_public_model(name) for name in registry.folders], default=registry.default
    )


@bp.get("/info")
def info():
    service = current()
    registry, settings = service.registry, service.settings
    return jsonify(
        engine=settings.engine,
        model=registry.default,
        models={name: model_bounds(name) for name in registry.folders},
        ready=registry.ready.is_set(),
        limits={
            "max_length": request_bounds().max_length,
            "max_prefix_chars": settings.max_prefix_chars,
            "max_nsamples": MAX_NSAMPLES,
            "max_stops": MAX_STOPS,
            "max_client_inflight": settings.max_client_inflight,
            "max_queue_wait": settings.max_queue_wait,
        },
    )


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    service = current()
    registry = service.registry
    registry.start_loading()
    if not registry.ready.is_set():
        service.metrics.rejected("not_ready")
        raise ApiError(
            registry.not_ready_reason(),
            type="not_ready",
            retry_after=service.settings.retry_after_s,
        )
    return jsonify(status="ready", models=list(registry.models))


@bp.get("/metrics")
def metrics():
    exposition = current().metrics
    return Response(exposition.exposition(), content_type=exposition.content_type)


@bp.get("/openapi.json")
def openapi():
    return jsonify(document(request_bounds()))
