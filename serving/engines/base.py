"""What every engine offers the scheduler: per-sequence KV slots and one forward pass per step.

The scheduler (serving/scheduler.py) owns the sequences; an engine only knows slots. Each step it
hands the engine one `Feed` per busy slot: a chunk of prompt being prefilled, or the token
sampled last step. Sampling happens inside the engine, per slot, with the slot's own settings,
so sequences with different temperatures or seeds share one step.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class Feed:
    slot: int  # the sequence's KV slot, 0 <= slot < engine.max_slots
    token_ids: list[int]  # appended to the slot's context this step: a prompt chunk, or the last
    #                       sampled token
    wants_token: bool  # True: sample the next token after the last of token_ids


class Engine(ABC):
    name: str  # "llama" | "tensorflow"
    n_ctx: int  # context length of one sequence
    n_vocab: int
    eos_id: int
    max_slots: int  # sequences held at once
    kv_tokens: int  # KV cells all slots share: the memory budget, in tokens

    @abstractmethod
    def open(self, slot: int, *, temperature: float, top_k: int, top_p: float, seed: int) -> None:
        """Empties the slot's cache and gives it its own sampler (temperature 0 = greedy).

        A seed is always given (the scheduler draws one for unseeded requests), so the same seed
        gives the same text whatever the slot's batch mates. Engines never sample the ids in
        `serving.tokenizer.Tokenizer.banned_ids` (special/filler `<|…|>` entries other than the end
        token).
        """

    @abstractmethod
    def step(self, feeds: list[Feed]) -> list[int | None]:
        """ONE forward pass over all feeds' tokens; per feed, the sampled next id or None."""

    @abstractmethod
    def free(self, slot: int) -> None:
        """Releases the slot's cache; the slot may be opened again at once."""

    @abstractmethod
    def move(self, source: int, target: int) -> None:
        """Moves an open slot's cache, sampler and position to the free slot `target`: its
        next steps continue exactly as they would have in `source`, which is left free."""

    @abstractmethod
    def close(self) -> None:
        """Frees the model now, while the interpreter is whole (not at exit)."""

    def warmup(self) -> None:
        """One short generation, so the first request does not pay for lazy allocations."""
        self.open(0, temperature=0.0, top_k=0, top_p=1.0, seed=0)
        try:
            token = self.step([Feed(0, [self.eos_id], wants_token=True)])[0]
            for _ in range(3):
                token = self.step([Feed(0, [token], wants_token=True)])[0]
        finally:
            self.free(0)
