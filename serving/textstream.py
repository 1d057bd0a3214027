"""Token ids → text that is safe to show, stopping at stop strings and at "<|endoftext|>".

Byte-level BPE tokens can end in the middle of a UTF-8 character, and a stop string can arrive
split over several tokens, so text is released only once it can no longer change or turn out to
be part of a stop string. A model trained before the tokenizer had one end token spells
"<|endoftext|>" as ordinary pieces: the literal string is a hidden stop string, never shown,
ending the sample with finish_reason "stop" (the end token itself ends it in the engine loop).
"""

from serving.tokenizer import EOS_TOKEN

REPLACEMENT = "\ufffd"  # what decoding shows for bytes that are not a whole character yet


class TextStream:
    def __init__(self, decode, stops: tuple[str, ...]):
        self._decode = decode
        self._markers = [(s, "stop") for s in stops] + [(EOS_TOKEN, "stop")]
        self._ids: list[int] = []
        self._sent = 0  # characters of the text already released
        self.text = ""  # the final text, once finished
        self.finish_reason: str | None = None

    def feed(self, token_id: int) -> str:
        """Adds one token; returns the newly released text (maybe empty)."""
        return self.feed_many([token_id])

    def feed_many(self, token_ids: list[int]) -> str:
        """Adds tokens, taking none after one completes a marker; returns the released text."""
        assert self.finish_reason is None, "feed after finish"
        if not token_ids:
            return ""
        text = self._decode(self._ids + token_ids)  # one decode for all: the common case
        cut, reason = self._first_marker(text)
        if reason is None:
            self._ids.extend(token_ids)
            stable = len(text.rstrip(REPLACEMENT))
            stable -= _held_back(text[:stable], [marker for marker, _ in self._markers])
            return self._release(text, max(stable, self._sent))
        if len(token_ids) == 1:
            self._ids.extend(token_ids)
            return self._finish(text[:cut], reason)
        released = []  # a marker ends the stream in here: find the token that completes it
        for token_id in token_ids:
            released.append(self.feed_many([token_id]))
            if self.finish_reason:
                break
        return "".join(released)

    def close(self, reason: str) -> str:
        """Ends the stream (length reached, end token): releases what was held back."""
        if self.finish_reason:
            return ""
        return self._finish(self._decode(self._ids), reason)

    @property
    def token_count(self) -> int:
        return len(self._ids)

    def _first_marker(self, text: str) -> tuple[int, str | None]:
        found = [(text.find(m), reason) for m, reason in self._markers if m in text]
        return min(found) if found else (len(text), None)

    def _finish(self, text: str, reason: str) -> str:
        self.finish_reason = reason
        self.text = text
        return self._release(text, len(text))

    def _release(self, text: str, end: int) -> str:
        chunk = text[self._sent : end]
        self._sent = end
        return chunk


def _held_back(text: str, markers: list[str]) -> int:
    """Length of the longest end of `text` that begins some marker (and may complete it later)."""
    longest = 0
    for marker in markers:
        for size in range(min(len(marker) - 1, len(text)), longest, -1):
            if text.endswith(marker[:size]):
                longest = size
                break
    return longest
