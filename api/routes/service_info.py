"""Service endpoints: /models, /info, /healthz, /readyz, /metrics, /openapi.json."""

import os

from flask import Blueprint, Response, jsonify

from api.errors import ApiError
from api.openapi import document
from api.service import current

bp = Blueprint("service", __name__)


@bp.get("/models")
def models():
    registry = current().registry
    return jsonify(
        models=[registry.describe(name) for name in registry.folders], default=registry.default
    )


@bp.get("/info")
def info():
    service = current()
    registry, settings = service.registry, service.settings
    default = registry.describe(registry.default) if registry.default else None
    return jsonify(
        engine=settings.engine,
        model=registry.default,
        n_ctx=default and default["n_ctx"],
        models=list(registry.folders),
        ready=registry.ready.is_set(),
        pid=os.getpid(),
        limits={
            "max_inflight": settings.max_inflight,
            "max_batch_size": settings.max_batch_size,
            "max_wait_ms": settings.max_wait_ms,
            "max_queue_wait": settings.max_queue_wait,
            "max_length": settings.max_length,
            "max_prefix_chars": settings.max_prefix_chars,
            "max_nsamples": 8,
        },
        compute_type=settings.compute_type if settings.engine == "ctranslate2" else "float32",
        in_flight=service.admission.in_flight,
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
        service.metrics.rejected.labels("not_ready").inc()
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
    return jsonify(document(current().settings))
