"""A request's unit of work: one sequence per sample, reporting tokens back to the request.

The scheduler calls `Sequence.push(token_id)` from its engine loop for every sampled token; its
answer says whether the sequence is done (end token, length reached, or the request was
cancelled: client gone, stop string found, deadline), and the scheduler frees its slot at once.
The request's thread reads the events from `Request.events`: every token for a `live` request
(streamed, or watching for stop strings), otherwise only the end, with the tokens kept on the
sequence. Waking every request thread for every token costs the engine loop CPU on 2 cores.
"""

import queue
import threading
import time
from dataclasses import dataclass

from api.request_parsing import SamplingParams


@dataclass(frozen=True)
class Token:
    sample: int
    token_id: int


@dataclass(frozen=True)
class Finished:
    sample: int
    reason: str  # "length" | "eos" | "cancelled"; "stop" is decided by the reader (it sees text)


@dataclass(frozen=True)
class Failed:
    sample: int
    error: BaseException


class Request:
    def __init__(
        self,
        prompt_ids: list[int],
        params: SamplingParams,
        *,
        eos_id: int,
        live: bool = True,
        client: str = "",
    ):
        assert prompt_ids, "a prompt has at least one token"
        self.prompt_ids = prompt_ids
        self.params = params
        self.eos_id = eos_id
        self.live = live
        self.client = client  # whose turn it is, for fair ordering among waiting requests
        self.seed = params.seed  # the scheduler draws one for an unseeded request
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.started = threading.Event()  # set when its first sequence gets an engine slot
        self.ended = threading.Event()  # set when one of its sequences ends: readers stop pacing
        self.enqueued_at = time.monotonic()
        self.started_at: float | None = None
        self.cancelled = False
        self.sequences = [Sequence(self, sample) for sample in range(params.nsamples)]

    def mark_started(self) -> None:
        if not self.started.is_set():
            self.started_at = time.monotonic()
            self.started.set()

    def cancel(self) -> None:
        """Stops every sequence before its next step; harmless after they have finished."""
        self.cancelled = True


class Sequence:
    def __init__(self, request: Request, sample: int):
        self.request = request
        self.sample = sample
        self.token_ids: list[int] = []
        self.token_times: list[float] = []  # time.monotonic() of each token
        self.finished = False
        self.halted = False  # the reader saw a stop string: no more tokens wanted

    @property
    def generated(self) -> int:
        return len(self.token_ids)

    @property
    def params(self) -> SamplingParams:
        return self.request.params

    @property
    def prompt_ids(self) -> list[int]:
        return self.request.prompt_ids

    @property
    def kv_tokens(self) -> int:
        """KV cells this sequence may fill: its prompt and every token it may generate."""
        return len(self.prompt_ids) + self.params.length

    @property
    def unwanted(self) -> bool:
        """Nobody will read more of it: the request was cancelled or a stop string was seen."""
        return self.request.cancelled or self.halted

    def push(self, token_id: int) -> bool:
        """Records a generated token; True means: stop generating this sequence."""
        if self.finished:
            return True
        if self.unwanted:
            self.finish("cancelled")
            return True
        if token_id == self.request.eos_id:
            self.finish("eos")
            return True
        self.token_ids.append(token_id)
        self.token_times.append(time.monotonic())
        if self.request.live:
            self.request.events.put(Token(self.sample, token_id))
        if len(self.token_ids) >= self.params.length:
            self.finish("length")
            return True
        return False

    def finish(self, reason: str) -> None:
        if not self.finished:
            self.finished = True
            self.request.events.put(Finished(self.sample, reason))
            self.request.ended.set()

    def fail(self, error: BaseException) -> None:
        if not self.finished:
            self.finished = True
            self.request.events.put(Failed(self.sample, error))
            self.request.ended.set()
