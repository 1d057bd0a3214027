"""Prometheus metrics, in a registry of the app's own (so several apps in one process, as in
tests, do not collide). Names are prefixed `ghost_`."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from serving.generation import Observer

# Seconds; generation steps on a CPU take milliseconds, whole requests up to minutes.
STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
REQUEST_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class Metrics(Observer):
    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "ghost_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.rejections = Counter(
            "ghost_rejected_requests",
            "Requests refused or stopped early (overloaded, client_limit, queue_timeout, "
            "deadline, client_gone, not_ready)",
            ["reason"],
            registry=r,
        )
        self.request_duration = Histogram(
            "ghost_request_duration_seconds",
            "Time from request to last byte",
            ["route"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "ghost_queue_depth", "Sequences waiting for the engine", registry=r
        )
        self.in_flight = Gauge(
            "ghost_sequences_in_flight", "Sequences admitted: running + queued", registry=r
        )
        self.step_size = Histogram(
            "ghost_step_sequences", "Sequences per engine step", buckets=BATCH_BUCKETS, registry=r
        )
        self.time_to_first_token = Histogram(
            "ghost_time_to_first_token_seconds",
            "From queueing to the first token reaching the request",
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.inter_token = Histogram(
            "ghost_inter_token_latency_seconds",
            "Between consecutive tokens of one streamed sample",
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.generated_tokens = Counter(
            "ghost_generated_tokens", "Tokens generated", ["model"], registry=r
        )
        self.model_loads = Counter(
            "ghost_model_loads", "Model loads in this worker process", ["model"], registry=r
        )

    def rejected(self, reason: str) -> None:
        self.rejections.labels(reason).inc()

    def first_token(self, seconds: float) -> None:
        self.time_to_first_token.observe(seconds)

    def between_tokens(self, seconds: float) -> None:
        self.inter_token.observe(seconds)

    def generated(self, model: str, tokens: int) -> None:
        self.generated_tokens.labels(model).inc(tokens)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
