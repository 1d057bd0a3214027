"""What one request asks of the sampler: length, temperature, top-k, top-p, seed, samples, stops.

The ranges here are the core's own; the HTTP layer's parameter table (api/request_parsing.py)
states them to clients. `engine_safe` turns values inside those ranges into values float32
engines can take.
"""

from dataclasses import dataclass, fields, replace

from serving.errors import InvalidRequest

MAX_NSAMPLES = 8
MAX_STOPS = 4
MAX_STOP_CHARS = 200
MAX_SEED = 2**63 - 1
# float32's smallest normal number: a top_p below it is 0 to the engines, which sample in
# float32 and refuse top_p = 0; it is clamped up, which keeps only the likeliest token as asked.
FLOAT32_TINY = 2.0**-126
# Logits divided by a temperature this small overflow float32; the choice is the greedy one.
GREEDY_BELOW = 1e-6


@dataclass(frozen=True)
class SamplingParams:
    length: int = 64  # new tokens per sample
    temperature: float = 0.7  # 0 = greedy
    top_k: int = 0  # 0 = no limit
    top_p: float = 1.0
    seed: int | None = None  # None: the request draws one (serving.sequence)
    nsamples: int = 1
    stop: tuple[str, ...] = ()

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class Range:
    minimum: float
    maximum: float | None = None  # None: bounded per model (serving.fit) or not at all
    above_minimum: bool = False  # the minimum itself is not allowed

    def words(self) -> str:
        """The range in words, for error messages."""
        if self.maximum is None:
            return f"{'above' if self.above_minimum else 'at least'} {self.minimum:g}"
        if self.above_minimum:
            return f"above {self.minimum:g} and at most {self.maximum:g}"
        return f"between {self.minimum:g} and {self.maximum:g}"

    def holds(self, value) -> bool:
        low_ok = value > self.minimum if self.above_minimum else value >= self.minimum
        return low_ok and (self.maximum is None or value <= self.maximum)


# The model-free ranges; length and top_k are also bounded by each model (serving.fit).
RANGES = {
    "length": Range(1),
    "temperature": Range(0, 2),
    "top_k": Range(0),
    "top_p": Range(0, 1, above_minimum=True),
    "seed": Range(0, MAX_SEED),
    "nsamples": Range(1, MAX_NSAMPLES),
}


def check_ranges(params: SamplingParams) -> None:
    """InvalidRequest naming the first value outside its range."""
    for field in fields(params):
        value, allowed = getattr(params, field.name), RANGES.get(field.name)
        if allowed is not None and value is not None and not allowed.holds(value):
            raise InvalidRequest(
                f"{field.name} must be {allowed.words()}; got {value!r}", param=field.name
            )


def engine_safe(params: SamplingParams) -> SamplingParams:
    """Values inside the documented ranges that float32 engines cannot take as they are."""
    temperature = 0.0 if params.temperature < GREEDY_BELOW else params.temperature
    return replace(params, temperature=temperature, top_p=max(params.top_p, FLOAT32_TINY))
