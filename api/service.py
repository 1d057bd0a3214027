"""The per-app state the routes share: settings, models, admission, metrics."""

from dataclasses import dataclass

from flask import current_app

from api.metrics import Metrics
from serving.admission import Admission
from serving.config import Settings
from serving.generation import GenerationPolicy
from serving.pacing import StreamPacer
from serving.registry import Registry

EXTENSION = "ghostwriter"


@dataclass
class Service:
    settings: Settings
    registry: Registry
    admission: Admission
    metrics: Metrics
    pacer: StreamPacer

    @property
    def policy(self) -> GenerationPolicy:
        s = self.settings
        return GenerationPolicy(
            admission=self.admission,
            max_queue_wait=s.max_queue_wait,
            max_length=s.max_length,
            max_request_s=s.max_request_s,
            pacer=self.pacer,
        )


def build(settings: Settings) -> Service:
    metrics = Metrics()
    registry = Registry(
        settings,
        on_step=metrics.step_size.observe,
        on_load=lambda name: metrics.model_loads.labels(name).inc(),
    )
    admission = Admission(settings.max_inflight, settings.max_client_inflight)
    metrics.in_flight.set_function(lambda: admission.in_flight)
    metrics.queue_depth.set_function(
        lambda: sum(m.scheduler.queue_depth for m in list(registry.models.values()))
    )
    pacer = StreamPacer(settings.stream_interval_ms / 1000)
    return Service(settings, registry, admission, metrics, pacer)


def current() -> Service:
    return current_app.extensions[EXTENSION]
