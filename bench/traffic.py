"""Mixed open-loop traffic: what a public page and an API send, as a fixed, seeded schedule.

Requests arrive as a Poisson process (exponential gaps); each asks for its own length, sampling
settings and prompt, and one in ten carries a seed. The schedule is a pure function of its seed:
every rate, and every server compared at a rate, gets the same requests in the same order, only
the gaps between arrivals are scaled.
"""

import dataclasses
import random
from dataclasses import dataclass

from bench.models import WORD_TEXT

SCHEDULE_SEED = 20261130


@dataclass(frozen=True)
class Mix:
    """The ranges one request's settings are drawn from (both ends included)."""

    lengths: tuple[int, int] = (16, 256)
    prompt_words: tuple[int, int] = (4, 64)
    temperatures: tuple[float, ...] = (0.7, 0.9, 1.0)
    top_ks: tuple[int, ...] = (0, 40)
    top_ps: tuple[float, ...] = (1.0, 0.9)
    seeded_share: float = 0.1

    @property
    def mean_length(self) -> float:
        low, high = self.lengths
        return (low + high) / 2


# The workload, and a smoke-sized one that fits the tiny test model's 256-token context
# (more often seeded, so a dozen requests hold some).
FULL_MIX = Mix()
SMOKE_MIX = Mix(lengths=(16, 64), prompt_words=(4, 16), seeded_share=0.25)


@dataclass(frozen=True)
class Request:
    at: float  # arrival, seconds from the start of the run
    prompt: str
    length: int  # new tokens asked for
    temperature: float
    top_k: int  # 0: no top-k cut
    top_p: float
    seed: int | None


def schedule(mix: Mix, *, rate_per_s: float, duration_s: float, seed: int = SCHEDULE_SEED):
    """The requests that arrive within duration_s at rate_per_s (Poisson), in arrival order.

    Settings and gaps come from separate generators seeded alike, so a higher rate sends the
    same requests as a lower one, only closer together (and more of them in the window).
    """
    if rate_per_s <= 0 or duration_s <= 0:
        raise ValueError("rate_per_s and duration_s must be positive")
    settings, gaps = random.Random(seed), random.Random(seed + 1)
    vocabulary = WORD_TEXT.split()
    requests, at = [], gaps.expovariate(1.0) / rate_per_s
    while at < duration_s:
        words = settings.choices(vocabulary, k=settings.randint(*mix.prompt_words))
        seeded = settings.random() < mix.seeded_share
        requests.append(
            Request(
                at=round(at, 4),
                prompt=" ".join(words).capitalize(),
                length=settings.randint(*mix.lengths),
                temperature=settings.choice(mix.temperatures),
                top_k=settings.choice(mix.top_ks),
                top_p=settings.choice(mix.top_ps),
                seed=settings.randrange(2**31) if seeded else None,
            )
        )
        at += gaps.expovariate(1.0) / rate_per_s
    return requests


def rate_for(tokens_per_s: float, mix: Mix) -> float:
    """Requests per second that ask for tokens_per_s new tokens on average."""
    return tokens_per_s / mix.mean_length


def at_demand(
    requests: list[Request], tokens_per_s: float, duration_s: float
) -> tuple[list[Request], float]:
    """The schedule with its arrival times scaled by one factor so that its requests ask for
    tokens_per_s over duration_s × factor, and the factor (the arrival rate is divided by it):
    the lengths a short Poisson draw holds can stray from their mean by tens of per cent,
    and the open loop compares what is served with the demand it states."""
    factor = sum(r.length for r in requests) / (tokens_per_s * duration_s)
    return [dataclasses.replace(r, at=round(r.at * factor, 4)) for r in requests], factor
