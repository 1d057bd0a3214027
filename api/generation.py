"""One generation request from admission to result, shared by /generate and /v1/completions.

`begin` encodes and checks the prompt, takes admission places and queues the request;
`Generation.wait_started` turns a too-long queue wait into a 503 before any response is sent;
`Generation.chunks` yields text as tokens arrive (a stream's paced by `api.pacing`: what came
meanwhile goes out as one chunk) and fills `Generation.samples`. While it waits it watches the
request's deadline and, for a JSON request, whether the client has gone (`api.peer`).
`Generation.close` (always, via the iterator's finally) cancels what is still running, e.g. for a
client that went away, and gives the places back.
"""

import queue
import time
from dataclasses import dataclass
from typing import NoReturn

from api import peer
from api.admission import Admission
from api.errors import ApiError, invalid
from api.metrics import Metrics
from api.pacing import StreamPacer
from api.registry import ServedModel
from api.request_parsing import GenerationRequest, check_fits_model
from api.sequence import Failed, Finished, Request, Token
from api.textstream import TextStream

# An engine step takes milliseconds; this long without any event means the engine is stuck.
STALL_TIMEOUT_S = 120.0
# How often a JSON request's thread looks whether its client is still there.
PEER_CHECK_S = 0.1


@dataclass
class Sample:
    text: str
    finish_reason: str
    tokens: int


@dataclass(frozen=True)
class Limits:
    """What bounds a request: admission places, queue wait, length, deadline; and stream pacing."""

    admission: Admission
    max_queue_wait: float
    max_length: int
    max_request_s: float  # from arrival to the last token, whatever happens meanwhile
    retry_after_s: int
    pacer: StreamPacer


def begin(
    model: ServedModel,
    asked: GenerationRequest,
    *,
    limits: Limits,
    metrics: Metrics,
    client: str = "",
) -> "Generation":
    """Queues a request; raises 400 for a prompt that does not fit, 429 past the client's share
    of in-flight sequences, 503 past the server's. `client` says whose share it takes."""
    engine, params = model.engine, asked.params
    # An empty prefix starts from <|endoftext|>, as a document start does in training text.
    prompt_ids = model.tokenizer.encode(asked.prefix) or [engine.eos_id]
    check_fits_model(
        asked,
        prompt_tokens=len(prompt_ids),
        n_ctx=engine.n_ctx,
        n_vocab=engine.n_vocab,
        max_length=limits.max_length,
    )
    _check_fits_cache(asked, len(prompt_ids) + params.length, engine.kv_tokens)
    _admit(limits, params.nsamples, client, metrics)
    # Token by token only where it matters: a stream, or stop strings to halt at.
    live = asked.stream or bool(params.stop)
    request = Request(prompt_ids, params, eos_id=engine.eos_id, live=live, client=client)
    run = Generation(model, request, limits=limits, metrics=metrics, stream=asked.stream)
    model.scheduler.submit(request)
    return run


def _check_fits_cache(asked: GenerationRequest, tokens: int, kv_tokens: int) -> None:
    """A sequence must fit the engine's KV budget, or it could never be admitted."""
    if tokens > kv_tokens:
        length, prefix = asked.name("length"), asked.name("prefix")
        raise invalid(
            f"the {prefix} and {length} make {tokens} tokens; this server holds at most "
            f"{kv_tokens} per sequence: shorten the {prefix} or the {length}",
            length,
        )


def _admit(limits: Limits, places: int, client: str, metrics: Metrics) -> None:
    refused = limits.admission.try_acquire(places, client)
    if refused == "client":
        metrics.rejected.labels("client_limit").inc()
        raise ApiError(
            f"you have {limits.admission.client_in_flight(client)} sequences in flight, and "
            f"each client may have {limits.admission.per_client}; wait for them to finish",
            type="overloaded",
            status=429,
            retry_after=limits.retry_after_s,
        )
    if refused == "overloaded":
        metrics.rejected.labels("overloaded").inc()
        raise ApiError(
            f"the server is busy ({limits.admission.limit} sequences in flight); retry shortly",
            type="overloaded",
            retry_after=limits.retry_after_s,
        )


class Generation:
    def __init__(
        self,
        model: ServedModel,
        request: Request,
        *,
        limits: Limits,
        metrics: Metrics,
        stream: bool,
    ):
        self.model = model
        self.request = request
        self.limits = limits
        self.metrics = metrics
        stops = request.params.stop
        self.streams = [TextStream(model.tokenizer.decode, stops) for _ in request.sequences]
        self.finished_at: float | None = None
        self.deadline = request.enqueued_at + limits.max_request_s
        # A stream learns that its client left from a failed write; a JSON request must ask.
        self._client_gone = peer.never_gone if stream else peer.watcher()
        self._closed = False
        self._last_chunks_at = float("-inf")  # the first token goes out at once
        if request.live:
            limits.pacer.opened()

    def wait_started(self) -> None:
        """Returns once the engine has taken the request; 503 after max_queue_wait (or past
        the request's deadline, if that comes first)."""
        queue_deadline = min(self.request.enqueued_at + self.limits.max_queue_wait, self.deadline)
        while not self.request.started.wait(self._wait_slice(queue_deadline)):
            self._check_client()
            if time.monotonic() >= queue_deadline and self.model.scheduler.withdraw(self.request):
                self._check_deadline()
                self._refuse(
                    "queue_timeout",
                    ApiError(
                        f"waited {self.limits.max_queue_wait:g} s for the engine; the server is "
                        "busy, retry shortly",
                        type="overloaded",
                        retry_after=self.limits.retry_after_s,
                    ),
                )

    def _wait_slice(self, until: float) -> float:
        """How long to block before looking again at the client and the clock."""
        remaining = max(0.0, until - time.monotonic())
        return remaining if self._client_gone is peer.never_gone else min(remaining, PEER_CHECK_S)

    def _check_client(self) -> None:
        if self._client_gone():
            # Nobody reads this answer; 499 is what nginx logs for it too.
            gone = ApiError("the client closed the connection", type="invalid_request", status=499)
            self._refuse("client_gone", gone)

    def _check_deadline(self) -> None:
        if time.monotonic() >= self.deadline:
            self._refuse(
                "deadline",
                ApiError(
                    f"the request ran past its {self.limits.max_request_s:g} s limit and was "
                    "stopped; ask for fewer or shorter samples, or retry when the server is less "
                    "busy",
                    type="overloaded",
                    retry_after=self.limits.retry_after_s,
                ),
            )

    def _refuse(self, reason: str, error: ApiError) -> NoReturn:
        """Gives the request's places back, counts why, and answers with `error`."""
        self.close()
        self.metrics.rejected.labels(reason).inc()
        raise error

    def chunks(self):
        """Yields (sample index, text) as text is released; Generation.samples is complete after."""
        try:
            while any(stream.finish_reason is None for stream in self.streams):
                texts: dict[int, str] = {}
                for event in self._next_events():
                    stream = self.streams[event.sample]
                    if stream.finish_reason is not None:
                        continue  # tokens generated after a stop string, before the engine saw it
                    if isinstance(event, Failed):
                        raise event.error
                    text = self._take_tokens(event)
                    if stream.finish_reason is not None:
                        self.request.sequences[event.sample].halted = True
                    elif isinstance(event, Finished):
                        text += stream.close(event.reason)
                    if text:
                        texts[event.sample] = texts.get(event.sample, "") + text
                yield from texts.items()
            self.finished_at = time.monotonic()
        finally:
            self.close()

    def _take_tokens(self, event: Token | Finished) -> str:
        """Feeds the sample's tokens up to this event (one for a Token, all at the end)."""
        sequence, stream = self.request.sequences[event.sample], self.streams[event.sample]
        start = stream.token_count
        end = start + 1 if isinstance(event, Token) else len(sequence.token_ids)
        text = stream.feed_many(sequence.token_ids[start:end])
        times = sequence.token_times
        for index in range(start, stream.token_count):
            if index == 0:
                self.metrics.time_to_first_token.observe(times[0] - self.request.enqueued_at)
            elif self.request.live:  # other requests get their tokens at once, at the end
                self.metrics.inter_token.observe(times[index] - times[index - 1])
        return text

    def _next_events(self) -> list[Token | Finished | Failed]:
        """Takes every event that has come, waiting for one if none has. A live request's
        reader first waits out its pacing interval (asleep, so tokens arriving meanwhile do
        not wake it), but not past an end: a client waiting to send its next request must not
        wait."""
        self._check_deadline()
        if self.request.live:
            next_chunk_at = self._last_chunks_at + self.limits.pacer.interval()
            self.request.ended.wait(max(0.0, next_chunk_at - time.monotonic()))
        events = [self._first_event()]
        while True:
            try:
                events.append(self.request.events.get_nowait())
            except queue.Empty:
                break
        self._last_chunks_at = time.monotonic()
        return events

    def _first_event(self) -> Token | Finished | Failed:
        """Waits for an event, watching the deadline and the client meanwhile."""
        stalled_at = time.monotonic() + STALL_TIMEOUT_S
        while True:
            try:
                return self.request.events.get(timeout=self._wait_slice(self.deadline))
            except queue.Empty:
                self._check_deadline()
                self._check_client()
                if time.monotonic() >= stalled_at:
                    raise RuntimeError(
                        f"no token from the engine in {STALL_TIMEOUT_S:g} s"
                    ) from None

    def complete(self) -> list[Sample]:
        for _ in self.chunks():
            pass
        return self.samples

    @property
    def samples(self) -> list[Sample]:
        return [Sample(s.text, s.finish_reason, s.token_count) for s in self.streams]

    def usage(self) -> dict:
        completion = sum(stream.token_count for stream in self.streams)
        prompt = len(self.request.prompt_ids)
        return {"prompt_tokens": prompt, "completion_tokens": completion}

    def timing_ms(self) -> dict:
        started = self.request.started_at or self.request.enqueued_at
        finished = self.finished_at or time.monotonic()
        return {
            "queue": round((started - self.request.enqueued_at) * 1000, 2),
            "inference": round((finished - started) * 1000, 2),
        }

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.request.cancel()
        if self.request.live:
            self.limits.pacer.closed()
        self.limits.admission.release(self.request.params.nsamples, self.request.client)
        tokens = sum(stream.token_count for stream in self.streams)
        self.metrics.generated_tokens.labels(self.model.name).inc(tokens)
