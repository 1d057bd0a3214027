"""Sequences: one per sample of a request, grouped so that they report back to one reader.

The scheduler calls `Sequence.push(token_id)` from its engine loop for every sampled token; its
answer says whether the sequence is done (end token, length reached, or the group was cancelled:
client gone, stop string found, deadline), and the scheduler frees its slot at once. The reader's
thread takes the events from `SequenceGroup.events`: every token for a `live` group (streamed,
or watching for stop strings), otherwise only the end, with the tokens kept on the sequence.
Waking the reader for every token costs the engine loop CPU on a small machine.
"""

import queue
import random
import threading
import time
from dataclasses import dataclass

from serving.sampling_params import MAX_SEED, SamplingParams


@dataclass(frozen=True)
class Token:
    index: int  # which sample of the group
    token_id: int


@dataclass(frozen=True)
class Finished:
    index: int
    reason: str  # "length" | "eos" | "cancelled"; "stop" is decided by the reader (it sees text)


@dataclass(frozen=True)
class Failed:
    index: int
    error: BaseException


class SequenceGroup:
    """A request's sequences, one per sample, with the queue its reader takes events from."""

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
        # Drawn here for an unseeded request, so every sample's stream follows from it.
        self.seed = params.seed if params.seed is not None else random.randint(0, MAX_SEED)
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.started = threading.Event()  # set when its first sequence gets an engine slot
        self.ended = threading.Event()  # set when one of its sequences ends: readers stop pacing
        self.enqueued_at = time.monotonic()
        self.started_at: float | None = None
        self.cancelled = False
        self.sequences = [Sequence(self, index) for index in range(params.nsamples)]

    def mark_started(self) -> None:
        if not self.started.is_set():
            self.started_at = time.monotonic()
            self.started.set()

    def cancel(self) -> None:
        """Stops every sequence before its next step; harmless after they have finished."""
        self.cancelled = True


class Sequence:
    def __init__(self, group: SequenceGroup, index: int):
        self.group = group
        self.index = index  # which sample of the group
        self.token_ids: list[int] = []
        self.token_times: list[float] = []  # time.monotonic() of each token
        self.finished = False
        self.halted = False  # the reader saw a stop string: no more tokens wanted

    @property
    def generated(self) -> int:
        return len(self.token_ids)

    @property
    def params(self) -> SamplingParams:
        return self.group.params

    @property
    def prompt_ids(self) -> list[int]:
        return self.group.prompt_ids

    @property
    def kv_tokens(self) -> int:
        """KV cells this sequence may fill: its prompt and every token it may generate."""
        return len(self.prompt_ids) + self.params.length

    @property
    def unwanted(self) -> bool:
        """Nobody will read more of it: the request was cancelled or a stop string was seen."""
        return self.group.cancelled or self.halted

    def push(self, token_id: int) -> bool:
        """Records a generated token; True means: stop generating this sequence."""
        if self.finished:
            return True
        if self.unwanted:
            self.finish("cancelled")
            return True
        if token_id == self.group.eos_id:
            self.finish("eos")
            return True
        self.token_ids.append(token_id)
        self.token_times.append(time.monotonic())
        if self.group.live:
            self.group.events.put(Token(self.index, token_id))
        if len(self.token_ids) >= self.params.length:
            self.finish("length")
            return True
        return False

    def finish(self, reason: str) -> None:
        if not self.finished:
            self.finished = True
            self.group.events.put(Finished(self.index, reason))
            self.group.ended.set()

    def fail(self, error: BaseException) -> None:
        if not self.finished:
            self.finished = True
            self.group.events.put(Failed(self.index, error))
            self.group.ended.set()
