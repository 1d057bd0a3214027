"""What every engine offers the batcher: one interface, several implementations."""

from abc import ABC, abstractmethod
from collections.abc import Hashable

from api.sampling import SamplingParams
from api.sequence import Sequence


class Engine(ABC):
    name: str  # "ctranslate2" | "tensorflow"
    n_ctx: int
    n_vocab: int
    eos_id: int
    parallelism: int = 1  # engine calls that may run at the same time

    @abstractmethod
    def batch_key(self, params: SamplingParams) -> Hashable:
        """Sequences whose keys are equal may share one `generate` call."""

    @abstractmethod
    def generate(self, batch: list[Sequence]) -> None:
        """Generates every sequence of the batch, calling `push` per token until it answers True.

        Returns when all are done; a sequence that was never stopped has reached the engine's
        length limit, and the caller finishes it.
        """

    @abstractmethod
    def close(self) -> None:
        """Frees the model now, while the interpreter is whole (not at exit)."""

    def warmup(self) -> None:
        """One short generation, so the first request does not pay for lazy allocations."""
        from api.sampling import SamplingParams
        from api.sequence import Request

        request = Request([self.eos_id], SamplingParams(length=4, temperature=0), eos_id=-1)
        self.generate(request.sequences)
