"""Admission control: a bounded number of sequences in flight (running + queued), in all and per
client.

A request takes one place per sample before it is queued and gives them back when it ends. When
the places are gone it is refused at once instead of waiting, so nothing queues without bound:
past the global limit `Overloaded`, past the client's own share `ClientLimit` (that client is
asking for too much; the others are still served).
"""

import threading
from collections import Counter

from serving.errors import ClientLimit, Overloaded


class Admission:
    def __init__(self, limit: int, per_client: int):
        assert limit >= 1 and per_client >= 1, (limit, per_client)
        self.limit = limit
        self.per_client = per_client
        self._in_flight = 0
        self._by_client: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def client_in_flight(self, client: str) -> int:
        return self._by_client[client]

    def acquire(self, places: int, client: str) -> None:
        """Takes the places, or raises the limit that is reached."""
        with self._lock:
            held = self._by_client[client]
            if held + places > self.per_client:
                raise ClientLimit(
                    f"you have {held} sequences in flight, and each client may have "
                    f"{self.per_client}; wait for them to finish"
                )
            if self._in_flight + places > self.limit:
                raise Overloaded(
                    f"the server is busy ({self.limit} sequences in flight); retry shortly"
                )
            self._in_flight += places
            self._by_client[client] += places

    def release(self, places: int, client: str) -> None:
        with self._lock:
            assert self._by_client[client] >= places, (self._by_client[client], places)
            self._in_flight -= places
            self._by_client[client] -= places
            if not self._by_client[client]:
                del self._by_client[client]  # the counter stays as small as the clients now
