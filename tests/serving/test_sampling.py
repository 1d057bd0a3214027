"""The token chooser, without a model."""

import numpy as np

from serving.sampler import choose_token, rng_for

LOGITS = np.array([0.0, 3.0, 1.0, 2.5, -1.0])


def test_greedy_is_argmax():
    assert choose_token(LOGITS, temperature=0, top_k=0, top_p=1, rng=rng_for(None, 0)) == 1


def test_top_k_and_top_p_restrict_the_candidates():
    rng = rng_for(1, 0)
    picks = {choose_token(LOGITS, temperature=2, top_k=2, top_p=1, rng=rng) for _ in range(200)}
    assert picks == {1, 3}
    picks = {choose_token(LOGITS, temperature=1, top_k=0, top_p=0.01, rng=rng) for _ in range(50)}
    assert picks == {1}


def test_same_seed_same_draws_and_samples_differ():
    def draws(seed, sample):
        rng = rng_for(seed, sample)
        return [choose_token(LOGITS, temperature=2, top_k=0, top_p=1, rng=rng) for _ in range(40)]

    assert draws(5, 0) == draws(5, 0)
    assert draws(5, 0) != draws(5, 1)
