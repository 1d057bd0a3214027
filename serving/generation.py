"""The generate entry of the serving core: one request from admission to its samples' text.

`begin` encodes the prompt, checks that it fits the model (serving.fit), takes admission places
(serving.admission) and queues the request's sequences with the model's scheduler.
`Generation.wait_started` refuses a request whose queue wait runs out before the engine takes it;
`Generation.chunks` yields text as tokens arrive (through serving.textstream, which holds back
partial characters and stop strings; a live request's reader is paced by serving.pacing) and
fills `Generation.samples`. While it waits it watches the request's deadline and, where the
caller can tell, whether its client has gone. `Generation.close` (always, via the iterator's
finally) cancels what still runs and gives the places back. The HTTP layer (api/), the CLI
(`python -m model sample`) and the benchmarks all generate through here; what happens is
reported to an `Observer` (the HTTP layer's metrics).
"""

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from serving.admission import Admission
from serving.errors import Cancelled, ClientLimit, DeadlineExceeded, Overloaded, ServingError
from serving.fit import as_given, check_fits
from serving.pacing import StreamPacer
from serving.registry import ServedModel
from serving.sampling_params import SamplingParams
from serving.sequence import Failed, Finished, SequenceGroup, Token
from serving.textstream import TextStream

# An engine step takes milliseconds; this long without any event means the engine is stuck.
STALL_TIMEOUT_S = 120.0
# How often a waiting request looks whether its client is still there.
CLIENT_CHECK_S = 0.1


class Observer:
    """What generations report as they go; the HTTP layer counts it in its metrics."""

    def rejected(self, reason: str) -> None:
        """A request refused or stopped early: client_limit, overloaded, queue_timeout,
        deadline or client_gone."""

    def first_token(self, seconds: float) -> None:
        """From queueing to a sample's first token reaching its reader."""

    def between_tokens(self, seconds: float) -> None:
        """Between consecutive tokens of one live sample."""

    def generated(self, model: str, tokens: int) -> None:
        """Tokens a request's samples got, counted when it ends."""


def never_gone() -> bool:
    return False


@dataclass(frozen=True)
class GenerationPolicy:
    """What bounds a request's life: admission places, queue wait, length, deadline; and how
    often a live request's reader takes what came meanwhile."""

    admission: Admission
    max_queue_wait: float
    max_length: int
    max_request_s: float  # from arrival to the last token, whatever happens meanwhile
    pacer: StreamPacer


@dataclass(frozen=True)
class SampleText:
    """One sample's answer: its text, why it ended, and its token count."""

    text: str
    finish_reason: str
    tokens: int


def begin(
    model: ServedModel,
    prompt: str,
    params: SamplingParams,
    *,
    policy: GenerationPolicy,
    live: bool,
    client: str = "",
    observer: Observer | None = None,
    client_gone: Callable[[], bool] = never_gone,
    name: Callable[[str], str] = as_given,
) -> "Generation":
    """Queues a request; raises InvalidRequest for one that does not fit the model, ClientLimit
    past the client's share of in-flight sequences, Overloaded past the server's. `live`: the
    reader takes tokens as they come (a stream); `client` says whose share it takes; `name`
    spells a parameter as the client did, for error messages."""
    observer = observer or Observer()
    engine = model.engine
    # An empty prefix starts from <|endoftext|>, as a document start does in training text.
    prompt_ids = model.tokenizer.encode(prompt) or [engine.eos_id]
    check_fits(
        params,
        prompt_tokens=len(prompt_ids),
        n_ctx=engine.n_ctx,
        n_vocab=engine.n_vocab,
        kv_tokens=engine.kv_tokens,
        max_length=policy.max_length,
        name=name,
    )
    try:
        policy.admission.acquire(params.nsamples, client)
    except Overloaded as error:
        observer.rejected("client_limit" if isinstance(error, ClientLimit) else "overloaded")
        raise
    # Token by token only where it matters: a stream, or stop strings to halt at.
    group = SequenceGroup(
        prompt_ids, params, eos_id=engine.eos_id, live=live or bool(params.stop), client=client
    )
    run = Generation(model, group, policy=policy, observer=observer, client_gone=client_gone)
    model.scheduler.submit(group)
    return run


class Generation:
    def __init__(
        self,
        model: ServedModel,
        group: SequenceGroup,
        *,
        policy: GenerationPolicy,
        observer: Observer,
        client_gone: Callable[[], bool],
    ):
        self.model = model
        self.group = group
        self.policy = policy
        self.observer = observer
        stops = group.params.stop
        self.streams = [TextStream(model.tokenizer.decode, stops) for _ in group.sequences]
        self.finished_at: float | None = None
        self.deadline = group.enqueued_at + policy.max_request_s
        self._client_gone = client_gone
        self._closed = False
        self._last_chunks_at = float("-inf")  # the first token goes out at once
        if group.live:
            policy.pacer.opened()

    def wait_started(self) -> None:
        """Returns once the engine has taken the request; Overloaded after max_queue_wait (or
        DeadlineExceeded past the request's deadline, if that comes first)."""
        queue_deadline = min(self.group.enqueued_at + self.policy.max_queue_wait, self.deadline)
        while not self.group.started.wait(self._wait_slice(queue_deadline)):
            self._check_client()
            if time.monotonic() >= queue_deadline and self.model.scheduler.withdraw(self.group):
                self._check_deadline()
                self._refuse(
                    "queue_timeout",
                    Overloaded(
                        f"waited {self.policy.max_queue_wait:g} s for the engine; the server is "
                        "busy, retry shortly"
                    ),
                )

    def _wait_slice(self, until: float) -> float:
        """How long to block before looking again at the client and the clock."""
        remaining = max(0.0, until - time.monotonic())
        return remaining if self._client_gone is never_gone else min(remaining, CLIENT_CHECK_S)

    def _check_client(self) -> None:
        if self._client_gone():
            self._refuse("client_gone", Cancelled("the client closed the connection"))

    def _check_deadline(self) -> None:
        if time.monotonic() >= self.deadline:
            self._refuse(
                "deadline",
                DeadlineExceeded(
                    f"the request ran past its {self.policy.max_request_s:g} s limit and was "
                    "stopped; ask for fewer or shorter samples, or retry when the server is less "
                    "busy"
                ),
            )

    def _refuse(self, reason: str, error: ServingError) -> NoReturn:
        """Gives the request's places back, reports why, and raises `error`."""
        self.close()
        self.observer.rejected(reason)
        raise error

    def chunks(self):
        """Yields (sample index, text) as text is released; `samples` is complete after."""
        try:
            while any(stream.finish_reason is None for stream in self.streams):
                texts: dict[int, str] = {}
                for event in self._next_events():
                    stream = self.streams[event.index]
                    if stream.finish_reason is not None:
                        continue  # tokens generated after a stop string, before the engine saw it
                    if isinstance(event, Failed):
                        raise event.error
                    text = self._take_tokens(event)
                    if stream.finish_reason is not None:
                        self.group.sequences[event.index].halted = True
                    elif isinstance(event, Finished):
                        text += stream.close(event.reason)
                    if text:
                        texts[event.index] = texts.get(event.index, "") + text
                yield from texts.items()
            self.finished_at = time.monotonic()
        finally:
            self.close()

    def _take_tokens(self, event: Token | Finished) -> str:
        """Feeds the sample's tokens up to this event (one for a Token, all at the end)."""
        sequence, stream = self.group.sequences[event.index], self.streams[event.index]
        start = stream.token_count
        end = start + 1 if isinstance(event, Token) else len(sequence.token_ids)
        text = stream.feed_many(sequence.token_ids[start:end])
        times = sequence.token_times
        for index in range(start, stream.token_count):
            if index == 0:
                self.observer.first_token(times[0] - self.group.enqueued_at)
            elif self.group.live:  # other requests get their tokens at once, at the end
                self.observer.between_tokens(times[index] - times[index - 1])
        return text

    def _next_events(self) -> list[Token | Finished | Failed]:
        """Takes every event that has come, waiting for one if none has. A live request's
        reader first waits out its pacing interval (asleep, so tokens arriving meanwhile do
        not wake it), but not past an end: a client waiting to send its next request must not
        wait."""
        self._check_deadline()
        if self.group.live:
            next_chunk_at = self._last_chunks_at + self.policy.pacer.interval()
            self.group.ended.wait(max(0.0, next_chunk_at - time.monotonic()))
        events = [self._first_event()]
        while True:
            try:
                events.append(self.group.events.get_nowait())
            except queue.Empty:
                break
        self._last_chunks_at = time.monotonic()
        return events

    def _first_event(self) -> Token | Finished | Failed:
        """Waits for an event, watching the deadline and the client meanwhile."""
        stalled_at = time.monotonic() + STALL_TIMEOUT_S
        while True:
            try:
                return self.group.events.get(timeout=self._wait_slice(self.deadline))
            except queue.Empty:
                self._check_deadline()
                self._check_client()
                if time.monotonic() >= stalled_at:
                    raise RuntimeError(
                        f"no token from the engine in {STALL_TIMEOUT_S:g} s"
                    ) from None

    def complete(self) -> list[SampleText]:
        for _ in self.chunks():
            pass
        return self.samples

    @property
    def samples(self) -> list[SampleText]:
        return [SampleText(s.text, s.finish_reason, s.token_count) for s in self.streams]

    def usage(self) -> dict:
        completion = sum(stream.token_count for stream in self.streams)
        return {"prompt_tokens": len(self.group.prompt_ids), "completion_tokens": completion}

    def timing_ms(self) -> dict:
        started = self.group.started_at or self.group.enqueued_at
        finished = self.finished_at or time.monotonic()
        return {
            "queue": round((started - self.group.enqueued_at) * 1000, 2),
            "inference": round((finished - started) * 1000, 2),
        }

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.group.cancel()
        if self.group.live:
            self.policy.pacer.closed()
        self.policy.admission.release(self.group.params.nsamples, self.group.client)
        tokens = sum(stream.token_count for stream in self.streams)
        self.observer.generated(self.model.name, tokens)
