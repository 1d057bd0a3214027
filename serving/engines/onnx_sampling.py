"""The ONNX engine's sampler: serving/sampler.py's semantics, vectorised over a step's rows.

Each row brings its own settings and one uniform number `u` in [0, 1) from its sequence's seeded
generator (one per sampled token, whatever path the row takes), so a seed's draws do not depend
on its batch mates. The graph (model/onnx_writer.py) hands over, per row, its best CANDIDATES
ids (banned ids excluded), a draw from the whole tempered distribution made with `u`, and the sum
of that distribution's weights. A row then takes one of four paths:
- temperature 0: the best candidate (argmax);
- no top-k and no top-p: the graph's draw (inverse CDF over the vocabulary in id order: the same
  distribution as sorting first, without sorting 50k values);
- top-k within the candidates, or top-p whose mass the candidates reach: the candidates, with
  choose_token's arithmetic (temperature, then top-k, then top-p on the tempered
  probabilities, then an inverse-CDF draw with `u`);
- otherwise the row's full logits, by `sample_row`, which is choose_token drawing `u`.
"""

from dataclasses import dataclass

import numpy as np

from serving.sampler import kept_distribution


def draws_whole_vocabulary(temperature: np.ndarray, top_k: np.ndarray, n_vocab: int):
    """Rows the graph must draw for (and sum the tempered weights of): sampled, no top-k."""
    return (temperature > 0) & ((top_k == 0) | (top_k >= n_vocab))


@dataclass(frozen=True)
class Rows:
    """A step's sampling rows: per row settings and graph outputs, row-aligned arrays."""

    temperature: np.ndarray  # [R] float64; 0 = greedy
    top_k: np.ndarray  # [R] int64; 0 = no limit
    top_p: np.ndarray  # [R] float64
    uniform: np.ndarray  # [R] float64 in [0, 1)
    top_values: np.ndarray  # [R, K] float32, best first, banned ids at -inf
    top_ids: np.ndarray  # [R, K] int64
    drawn_ids: np.ndarray  # [R] int64, read for draws_whole_vocabulary rows only
    tempered_sum: np.ndarray  # [R] float32: sum over the vocabulary of exp((l - max) / T), same


def choose(rows: Rows, n_vocab: int, full_row) -> np.ndarray:
    """Token ids [R]; `full_row(r)` gives row r's raw logits when its candidates do not suffice."""
    candidates = rows.top_ids.shape[1]
    greedy = rows.temperature == 0
    top_k = np.where(rows.top_k >= n_vocab, 0, rows.top_k)
    unlimited = (top_k == 0) & (rows.top_p >= 1)
    chosen = np.where(greedy, rows.top_ids[:, 0], rows.drawn_ids)
    inside = ~greedy & ~unlimited & (top_k <= candidates)
    if inside.any():
        ids, reached = _from_candidates(rows, top_k, inside)
        chosen[inside] = ids
        inside[inside] = reached
    for row in np.flatnonzero(~greedy & ~unlimited & ~inside):
        chosen[row] = sample_row(
            full_row(row),
            temperature=rows.temperature[row],
            top_k=int(top_k[row]),
            top_p=rows.top_p[row],
            u=rows.uniform[row],
        )
    return chosen


def _from_candidates(rows: Rows, top_k: np.ndarray, picked: np.ndarray):
    """Draws of the picked rows from their candidates, and whether each row's candidates held
    what it asks for (top-k within them, or top-p's mass; rows that fail take the full row)."""
    k_rows = top_k[picked]
    count = rows.top_ids.shape[1]
    limit = np.where(k_rows == 0, count, k_rows)
    scaled = rows.top_values[picked].astype(np.float64) / rows.temperature[picked, None]
    weights = np.exp(scaled - scaled[:, :1])
    weights[np.arange(count)[None, :] >= limit[:, None]] = 0.0
    # With a top-k the kept set is the candidates; without, the whole vocabulary's sum.
    total = np.where(k_rows == 0, rows.tempered_sum[picked].astype(np.float64), weights.sum(1))
    mass = np.cumsum(weights / total[:, None], axis=1)
    top_p = rows.top_p[picked]
    cut = np.where(top_p < 1, (mass < top_p[:, None]).sum(1) + 1, limit)
    reached = (k_rows > 0) | (mass[:, -1] >= top_p)
    cut = np.minimum(cut, limit)
    weights[np.arange(count)[None, :] >= cut[:, None]] = 0.0
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    index = (cdf <= rows.uniform[picked, None]).sum(1)
    index = np.minimum(index, cut - 1)
    return rows.top_ids[picked][np.arange(len(index)), index], reached


def sample_row(logits: np.ndarray, *, temperature, top_k: int, top_p, u: float) -> int:
    """serving.sampler.choose_token on one row whose banned ids are already -inf, with the
    uniform draw `u` given (numpy's Generator.choice draws one and searches the same CDF)."""
    order, probs = kept_distribution(logits, temperature=temperature, top_k=top_k, top_p=top_p)
    cdf = np.cumsum(probs)
    cdf /= cdf[-1]
    return int(order[np.searchsorted(cdf, u, side="right")])
