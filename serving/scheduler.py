"""The scheduler: one engine loop per model, advancing every active sequence by one token a step.

Iteration-level scheduling: each step admits waiting sequences to free engine slots, feeds every
decoding sequence its last token and prefilling ones the next chunk of their prompts (at most
`prefill_chunk` prompt tokens per step in all, so a long prompt delays the others by a few steps
instead of one long one), runs ONE engine step, hands each sampled token to its sequence and
frees the slots of the sequences that ended (end token, length, stop string, cancelled) at once.
A request that arrives mid-generation starts at the next step; nobody waits for a batch to end.
Running sequences hold slots 0..n-1: a new one takes the lowest free slot and one above a gap
moves down into it, because llama.cpp computes one sub-batch per run of consecutive slots.
A prompt is cut into chunks of `prefill_chunk` tokens from its start, whatever else is
prefilling: a chunk that does not fit this step's budget waits for the next. An engine's
arithmetic over a chunk depends on the chunk's length in the last bits (attention's matrix
products), so cuts that moved with the neighbours would let them change a seed's text.

Admission counts KV cells, not requests: a sequence reserves its prompt plus its length, and the
running sequences' reservations stay within `engine.kv_tokens`. Waiting sequences are taken
round-robin by client, one at a time, so one client's many samples do not hold back another's.
The head sequence that does not fit stops admission for this step: a large request is never
overtaken forever by small ones.
"""

import heapq
import logging
import threading
from collections import OrderedDict, deque

from serving.engines.base import Engine, Feed
from serving.sampler import seed_for
from serving.sequence import Sequence, SequenceGroup

log = logging.getLogger(__name__)


class Running:
    """A sequence holding an engine slot: how much of its prompt the engine has seen."""

    def __init__(self, sequence: Sequence, slot: int):
        self.sequence = sequence
        self.slot = slot
        self.prompt_fed = 0
        self.last_token: int | None = None

    def next_feed(self, chunk_size: int, prompt_budget: int) -> Feed | None:
        """This step's feed: the last token, or the prompt's next chunk of `chunk_size` tokens
        (the rest, at the end) if it fits `prompt_budget`."""
        prompt = self.sequence.prompt_ids
        if self.prompt_fed == len(prompt):
            return Feed(self.slot, [self.last_token], wants_token=True)
        chunk = prompt[self.prompt_fed : self.prompt_fed + chunk_size]
        if len(chunk) > prompt_budget:
            return None
        done = self.prompt_fed + len(chunk) == len(prompt)
        return Feed(self.slot, chunk, wants_token=done)


class Scheduler:
    def __init__(self, engine: Engine, *, prefill_chunk: int, on_step=None):
        assert prefill_chunk >= 1, prefill_chunk
        self.engine = engine
        self.prefill_chunk = prefill_chunk
        self._on_step = on_step or (lambda size: None)  # metrics: sequences per engine step
        self._waiting: OrderedDict[str, deque[Sequence]] = OrderedDict()  # by client, in turn
        self._running: dict[int, Running] = {}
        # The lowest free slot first, and sequences moved down into the gaps that leave (`_pack`),
        # so running slots are one run of consecutive ids: llama.cpp splits a step into one
        # sub-batch per run (serving.engines.llama_engine).
        self._free_slots = list(range(engine.max_slots))  # a heap
        self._reserved = 0  # KV cells the running sequences may fill
        self._changed = threading.Condition()
        self._closed = False
        # A daemon thread: a stuck engine step must not keep the process from exiting.
        self._thread = threading.Thread(target=self._loop, name="engine-loop", daemon=True)
        self._thread.start()

    @property
    def queue_depth(self) -> int:
        return sum(len(waiting) for waiting in list(self._waiting.values()))

    @property
    def active(self) -> int:
        return len(self._running)

    def submit(self, group: SequenceGroup) -> None:
        assert all(s.kv_tokens <= self.engine.kv_tokens for s in group.sequences)
        with self._changed:
            assert not self._closed, "scheduler is closed"
            self._waiting.setdefault(group.client, deque()).extend(group.sequences)
            self._changed.notify()

    def withdraw(self, group: SequenceGroup) -> bool:
        """Takes a group's sequences out of the queue if none has started; True if it did."""
        with self._changed:
            if group.started.is_set():
                return False
            group.cancel()
            self._drop_cancelled()
            return True

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            with self._changed:
                while not self._closed and not self._running and not self._waiting:
                    self._changed.wait()
                if self._closed:
                    return
                self._admit()
                self._pack()
            self._release_unwanted()
            if self._running:
                self._step()

    def _admit(self) -> None:
        """Gives free slots to waiting sequences, one per client in turn, within the KV budget."""
        self._drop_cancelled()
        while self._waiting and self._free_slots:
            client, waiting = next(iter(self._waiting.items()))
            sequence = waiting[0]
            if self._reserved + sequence.kv_tokens > self.engine.kv_tokens:
                return
            waiting.popleft()
            del self._waiting[client]
            if waiting:
                self._waiting[client] = waiting  # to the back of the line
            self._start(sequence)

    def _pack(self) -> None:
        """Moves the sequences of the highest slots down into free lower ones, so the running
        slots are 0..n-1 (see __init__): a move copies a slot's cache once, a gap costs a
        sub-batch every step."""
        while self._free_slots and self._running:
            top = max(self._running)
            if self._free_slots[0] > top:
                return
            low = heapq.heapreplace(self._free_slots, top)
            running = self._running.pop(top)
            self.engine.move(top, low)
            running.slot = low
            self._running[low] = running

    def _start(self, sequence: Sequence) -> None:
        slot = heapq.heappop(self._free_slots)
        params = sequence.params
        self.engine.open(
            slot,
            temperature=params.temperature,
            top_k=params.top_k,
            top_p=params.top_p,
            seed=seed_for(sequence.group.seed, sequence.index),
        )
        self._running[slot] = Running(sequence, slot)
        self._reserved += sequence.kv_tokens
        sequence.group.mark_started()

    def _drop_cancelled(self) -> None:
        for client in list(self._waiting):
            waiting = deque(s for s in self._waiting[client] if not s.group.cancelled)
            if waiting:
                self._waiting[client] = waiting
            else:
                del self._waiting[client]

    def _release_unwanted(self) -> None:
        """Frees the slots of sequences nobody reads any more, before they cost a step."""
        for running in list(self._running.values()):
            if running.sequence.unwanted:
                running.sequence.finish("cancelled")
                self._release(running)

    def _release(self, running: Running) -> None:
        self.engine.free(running.slot)
        with self._changed:
            del self._running[running.slot]
            heapq.heappush(self._free_slots, running.slot)
            self._reserved -= running.sequence.kv_tokens

    def _step(self) -> None:
        feeds: list[tuple[Running, Feed]] = []
        budget = self.prefill_chunk
        for running in list(self._running.values()):
            prefilling = running.prompt_fed < len(running.sequence.prompt_ids)
            feed = running.next_feed(self.prefill_chunk, budget)
            if feed is not None:
                feeds.append((running, feed))
                budget -= len(feed.token_ids) if prefilling else 0
        self._on_step(len(feeds))
        try:
            tokens = self.engine.step([feed for _, feed in feeds])
        except Exception as error:  # these requests answer an error; the loop carries on
            log.exception("engine step failed")
            for running, _ in feeds:
                running.sequence.fail(error)
                self._release(running)
            return
        for (running, feed), token in zip(feeds, tokens, strict=True):
            self._advance(running, feed, token)

    def _advance(self, running: Running, feed: Feed, token: int | None) -> None:
        if running.prompt_fed < len(running.sequence.prompt_ids):
            running.prompt_fed += len(feed.token_ids)
        if token is None:
            return
        running.last_token = token
        if running.sequence.push(token):
            self._release(running)
