"""Choosing the next token from logits: temperature, top-k, top-p, with a caller's random source.

Used where sampling happens in Python (the TensorFlow engine, `python -m model sample`), so a seed
fully determines the draws: the same seed, parameters and model give the same text.
"""

import numpy as np

SEED_BITS = 32  # engines' sampler seeds are 32-bit (llama.cpp's are uint32)


def choose_token(
    logits: np.ndarray,
    *,
    temperature: float,
    top_k: int,
    top_p: float,
    rng: np.random.Generator,
    banned: np.ndarray | None = None,
) -> int:
    """One token id from a [n_vocab] row of logits. temperature 0 = greedy (argmax).

    `banned` ids (special/filler tokens) are never chosen, whatever their logits.
    """
    if banned is not None and len(banned):
        logits = logits.copy()
        logits[banned] = -np.inf
    if temperature == 0:
        return int(np.argmax(logits))
    order, probs = kept_distribution(logits, temperature=temperature, top_k=top_k, top_p=top_p)
    return int(order[rng.choice(len(order), p=probs)])


def kept_distribution(
    logits: np.ndarray, *, temperature: float, top_k: int, top_p: float
) -> tuple[np.ndarray, np.ndarray]:
    """The ids a draw may pick, most probable first, and their probabilities: temperature, then
    top-k, then top-p on the tempered probabilities (top-k's set does not depend on temperature;
    top-p's does)."""
    scaled = logits.astype(np.float64) / temperature
    order = np.argsort(-scaled, kind="stable")
    if top_k:
        order = order[:top_k]
    kept = scaled[order]
    probs = np.exp(kept - kept[0])
    probs /= probs.sum()
    if top_p < 1:
        # Keep the most probable tokens until their mass reaches top_p (at least one token).
        cut = int(np.searchsorted(np.cumsum(probs), top_p)) + 1
        probs = probs[:cut] / probs[:cut].sum()
        order = order[:cut]
    return order, probs


def seed_for(seed: int, sample: int) -> int:
    """The engine seed of sample `sample` of a request seeded `seed`: its own stream, the same
    whatever the request was batched with."""
    state = np.random.SeedSequence([seed, sample]).generate_state(1, np.uint32)
    return int(state[0])


def rng_for(seed: int | None, sample: int) -> np.random.Generator:
    """Sample `sample` of a request: its own stream, derived from the request's seed."""
    return np.random.default_rng(None if seed is None else seed_for(seed, sample))
