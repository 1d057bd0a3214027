"""Admission control: a bounded number of sequences in flight (running + queued).

A request takes one slot per sample before it is queued and gives them back when it ends; when
the slots are gone it is refused at once (the caller answers 503 with Retry-After) instead of
waiting, so nothing queues without bound.
"""

import threading


class Admission:
    def __init__(self, limit: int):
        assert limit >= 1, limit
        self.limit = limit
        self._in_flight = 0
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def try_acquire(self, slots: int) -> bool:
        with self._lock:
            if self._in_flight + slots > self.limit:
                return False
            self._in_flight += slots
            return True

    def release(self, slots: int) -> None:
        with self._lock:
            assert self._in_flight >= slots, (self._in_flight, slots)
            self._in_flight -= slots
