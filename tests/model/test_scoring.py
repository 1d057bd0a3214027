"""scoring.token_logprobs: TensorFlow's per-token log-probabilities, batched."""

import math

import numpy as np
import pytest

from model import scoring


@pytest.fixture(scope="module")
def sequences():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 512, size=n).tolist() for n in (5, 128, 2, 60, 17)]


@pytest.mark.timeout(180)
def test_batching_and_padding_do_not_change_scores(tiny_base, sequences):
    batched = scoring.token_logprobs(tiny_base.path, sequences, batch_size=3)
    alone = scoring.token_logprobs(tiny_base.path, sequences, batch_size=1)
    for ids, together, single in zip(sequences, batched, alone, strict=True):
        assert together.shape == (len(ids) - 1,) and together.dtype == np.float32
        np.testing.assert_allclose(together, single, atol=1e-5)
    values = np.concatenate(batched)
    # An untrained model is close to uniform over its 512 ids.
    assert np.all(values < 0) and abs(values.mean() + math.log(512)) < 0.5


@pytest.mark.parametrize("length", [1, 129])
def test_sequences_must_fit_the_context(tiny_base, length):
    with pytest.raises(ValueError, match="score 2..128 at a time"):
        scoring.token_logprobs(tiny_base.path, [[0] * length])
