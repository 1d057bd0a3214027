"""The batcher: one thread that groups waiting sequences into engine calls.

Sequences wait in arrival order. When an engine slot is free, the oldest waiting sequence picks
the batch: it and the next ones with the same engine batch key (same sampling parameters, for
CTranslate2), up to max_batch_size. An idle batcher starts a batch once it is full or no new
sequence has arrived for max_wait_ms, and at the latest BURST_WAITS × max_wait_ms after its
oldest arrival: a lone request waits max_wait_ms, a burst (32 threads starting at once take
10-50 ms on a loaded 2-core machine) lands in one batch instead of two. A busy batcher takes
whatever gathered while the engine worked, except right after a batch of N ends: its clients
tend to come back together, so for up to BURST_WAITS × max_wait_ms the next batch waits for N
more sequences than were queued. Else the first returners start without the rest, who then wait
a whole batch, and under steady load the batches stay split in two.
"""

import logging
import queue
import threading
import time
from collections import deque

from api.engines.base import Engine
from api.sequence import Request, Sequence

log = logging.getLogger(__name__)

BURST_WAITS = 10


class Batcher:
    def __init__(self, engine: Engine, *, max_batch_size: int, max_wait_ms: float, on_batch=None):
        self.engine = engine
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000
        self._last_arrival = 0.0
        # Until when the next batch waits for the last one's clients, and for how many sequences.
        self._returns = (float("-inf"), 0)
        self._on_batch = on_batch or (lambda size: None)  # metrics: sizes of engine calls
        self._waiting: deque[Sequence] = deque()
        self._changed = threading.Condition()
        self._slots = threading.Semaphore(engine.parallelism)
        self._batches: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        # Daemon threads: a stuck engine call must not keep the process from exiting.
        self._runner_threads = [
            threading.Thread(target=self._run_batches, name=f"engine-{number}", daemon=True)
            for number in range(engine.parallelism)
        ]
        for thread in self._runner_threads:
            thread.start()
        self._thread = threading.Thread(target=self._loop, name="batcher", daemon=True)
        self._thread.start()

    @property
    def queue_depth(self) -> int:
        return len(self._waiting)

    def submit(self, request: Request) -> None:
        with self._changed:
            assert not self._closed, "batcher is closed"
            self._waiting.extend(request.sequences)
            self._last_arrival = time.monotonic()
            self._changed.notify()

    def withdraw(self, request: Request) -> bool:
        """Takes a request's sequences out of the queue if none has started; True if it did."""
        with self._changed:
            if request.started.is_set():
                return False
            request.cancel()
            self._waiting = deque(s for s in self._waiting if s.request is not request)
            return True

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._thread.join(timeout=5)
        for _ in self._runner_threads:
            self._batches.put(None)
        for thread in self._runner_threads:
            thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            self._slots.acquire()
            batch = self._next_batch()
            if batch is None:
                return
            self._batches.put(batch)

    def _run_batches(self) -> None:
        while (batch := self._batches.get()) is not None:
            self._run(batch)

    def _next_batch(self) -> list[Sequence] | None:
        with self._changed:
            while True:
                self._drop_cancelled()
                if self._closed:
                    return None
                if not self._waiting:
                    self._changed.wait()
                    continue
                key = self.engine.batch_key(self._waiting[0].params)
                batch = [s for s in self._waiting if self.engine.batch_key(s.params) == key]
                batch = batch[: self.max_batch_size]
                oldest = self._waiting[0].request.enqueued_at
                ready_at = min(
                    self._last_arrival + self.max_wait_s, oldest + BURST_WAITS * self.max_wait_s
                )
                returns_until, expected = self._returns
                if len(batch) < expected:
                    ready_at = max(ready_at, returns_until)
                remaining = ready_at - time.monotonic()
                if len(batch) < self.max_batch_size and remaining > 0:
                    self._changed.wait(remaining)
                    continue
                taken = {id(s) for s in batch}
                self._waiting = deque(s for s in self._waiting if id(s) not in taken)
                for seq in batch:
                    seq.request.mark_started()
                return batch

    def _drop_cancelled(self) -> None:
        if any(s.request.cancelled for s in self._waiting):
            self._waiting = deque(s for s in self._waiting if not s.request.cancelled)

    def _run(self, batch: list[Sequence]) -> None:
        try:
            self._on_batch(len(batch))
            self.engine.generate(batch)
            for seq in batch:
                seq.finish("length")  # engine stopped on its own: only at the length limit
            with self._changed:
                expected = min(self.max_batch_size, len(self._waiting) + len(batch))
                self._returns = (time.monotonic() + BURST_WAITS * self.max_wait_s, expected)
        except Exception as error:  # the requests answer 500; the batcher carries on
            log.exception("engine call failed")
            for seq in batch:
                seq.fail(error)
        finally:
            self._slots.release()
