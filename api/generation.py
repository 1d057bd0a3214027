"""One generation request from admission to result, shared by /generate and /v1/completions.

`begin` encodes and checks the prompt, takes admission slots and queues the request;
`Run.wait_started` turns a too-long queue wait into a 503 before any response is sent;
`Run.chunks` yields text as tokens arrive (a stream's paced by `api.pacing`: what came
meanwhile goes out as one chunk) and fills `Run.samples`. `Run.close` (always, via
the iterator's finally) cancels what is still running, e.g. for a client that went away,
and gives the slots back.
"""

import queue
import time
from dataclasses import dataclass

from api.admission import Admission
from api.errors import ApiError
from api.metrics import Metrics
from api.pacing import StreamPacer
from api.registry import ServedModel
from api.sampling import SamplingParams, check_fits_model
from api.sequence import Failed, Finished, Request, Token
from api.textstream import TextStream

# An engine step takes milliseconds; this long without any event means the engine is stuck.
STALL_TIMEOUT_S = 120.0


@dataclass
class Sample:
    text: str
    finish_reason: str
    tokens: int


@dataclass(frozen=True)
class Limits:
    admission: Admission
    max_queue_wait: float
    max_length: int
    retry_after_s: int
    pacer: StreamPacer


def begin(
    model: ServedModel,
    prefix: str,
    params: SamplingParams,
    *,
    stream: bool,
    limits: Limits,
    metrics: Metrics,
    names=None,
) -> "Run":
    """Queues a request; raises 400 for a prompt that does not fit, 503 when over the limit."""
    engine = model.engine
    # An empty prefix starts from <|endoftext|>, as a document start does in training text.
    prompt_ids = model.tokenizer.encode(prefix) or [engine.eos_id]
    check_fits_model(
        params,
        prompt_tokens=len(prompt_ids),
        n_ctx=engine.n_ctx,
        n_vocab=engine.n_vocab,
        max_length=limits.max_length,
        names=names,
    )
    if not limits.admission.try_acquire(params.nsamples):
        metrics.rejected.labels("overloaded").inc()
        raise ApiError(
            f"the server is busy ({limits.admission.limit} sequences in flight); retry shortly",
            type="overloaded",
            retry_after=limits.retry_after_s,
        )
    # Token by token only where it matters: a stream, or stop strings to halt at.
    live = stream or bool(params.stop)
    request = Request(prompt_ids, params, eos_id=engine.eos_id, live=live)
    run = Run(model, request, limits=limits, metrics=metrics)
    model.batcher.submit(request)
    return run


class Run:
    def __init__(self, model: ServedModel, request: Request, *, limits: Limits, metrics: Metrics):
        self.model = model
        self.request = request
        self.limits = limits
        self.metrics = metrics
        stops = request.params.stop
        self.streams = [TextStream(model.tokenizer.decode, stops) for _ in request.sequences]
        self.finished_at: float | None = None
        self._closed = False
        self._last_chunks_at = float("-inf")  # the first token goes out at once
        if request.live:
            limits.pacer.opened()

    def wait_started(self) -> None:
        """Returns once the engine has taken the request; 503 after max_queue_wait."""
        if self.request.started.wait(self.limits.max_queue_wait):
            return
        if self.model.batcher.withdraw(self.request):
            self.close()
            self.metrics.rejected.labels("queue_timeout").inc()
            raise ApiError(
                f"waited {self.limits.max_queue_wait:g} s for the engine; the server is busy, "
                "retry shortly",
                type="overloaded",
                retry_after=self.limits.retry_after_s,
            )

    def chunks(self):
        """Yields (sample index, text) as text is released; Run.samples is complete after."""
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
        if self.request.live:
            next_chunk_at = self._last_chunks_at + self.limits.pacer.interval()
            self.request.ended.wait(max(0.0, next_chunk_at - time.monotonic()))
        try:
            events = [self.request.events.get(timeout=STALL_TIMEOUT_S)]
        except queue.Empty:
            raise RuntimeError(f"no token from the engine in {STALL_TIMEOUT_S:g} s") from None
        while True:
            try:
                events.append(self.request.events.get_nowait())
            except queue.Empty:
                break
        self._last_chunks_at = time.monotonic()
        return events

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
        self.limits.admission.release(self.request.params.nsamples)
        tokens = sum(stream.token_count for stream in self.streams)
        self.metrics.generated_tokens.labels(self.model.name).inc(tokens)
