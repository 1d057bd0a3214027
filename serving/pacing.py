"""How often a stream sends the text that came meanwhile.

Every chunk a stream sends costs a wake-up of its request thread, a uWSGI write, an nginx relay
and a parse in the client, all while the engine computes; on a small machine that CPU comes
out of the engine's. 32 streams sent token by token are ~750 chunks/s. So the streams open at
once share a budget of chunks per second: alone, a stream sends every
`min_interval_s` (50 ms: a reader cannot tell that from single tokens); as one of 32, every
320 ms, a few tokens at a time. Ends are never held back (see `serving.generation`).
"""

import threading

CHUNKS_PER_S = 100  # all open streams together


class StreamPacer:
    def __init__(self, min_interval_s: float, chunks_per_s: float = CHUNKS_PER_S):
        self.min_interval_s = min_interval_s
        self.chunks_per_s = chunks_per_s
        self._open = 0
        self._lock = threading.Lock()

    @property
    def streams_open(self) -> int:
        return self._open

    def opened(self) -> None:
        with self._lock:
            self._open += 1

    def closed(self) -> None:
        with self._lock:
            self._open -= 1

    def interval(self) -> float:
        """Seconds between one stream's chunks now; 0 (every token) when pacing is off."""
        if self.min_interval_s <= 0:
            return 0.0
        return max(self.min_interval_s, self._open / self.chunks_per_s)
