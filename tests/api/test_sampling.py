"""Parameter validation as pure functions, and the token chooser, without a model."""

import numpy as np
import pytest

from api.errors import ApiError
from api.sampler import choose_token, rng_for
from api.sampling import SamplingParams, check_fits_model, generate_args


def parse(raw, *, from_query=False):
    return generate_args(raw, from_query=from_query, max_prefix_chars=100)


def test_defaults():
    args = parse({})
    assert args.prefix == "" and args.model is None and args.stream is False
    assert args.params == SamplingParams()


def test_query_strings_are_converted():
    args = parse(
        {
            "prefix": "Ash",
            "length": "5",
            "temperature": "0",
            "top_k": "40",
            "top_p": "0.9",
            "seed": "7",
            "nsamples": "2",
            "stop": ["\n", "."],
            "stream": "true",
            "model": "tiny",
        },
        from_query=True,
    )
    assert args.params == SamplingParams(
        length=5, temperature=0.0, top_k=40, top_p=0.9, seed=7, nsamples=2, stop=("\n", ".")
    )
    assert args.stream is True and args.model == "tiny" and args.prefix == "Ash"


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        ({"length": 0}, "length"),
        ({"length": 1.5}, "length"),
        ({"length": "5"}, "length"),  # JSON must carry numbers as numbers
        ({"length": True}, "length"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": 2.01}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_k": -1}, "top_k"),
        ({"top_k": 2.5}, "top_k"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.01}, "top_p"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**63}, "seed"),
        ({"seed": "x"}, "seed"),
        ({"nsamples": 0}, "nsamples"),
        ({"nsamples": 9}, "nsamples"),
        ({"stop": ""}, "stop"),
        ({"stop": ["a", 1]}, "stop"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"prefix": 5}, "prefix"),
        ({"prefix": "x" * 101}, "prefix"),
        ({"prefix": None}, "prefix"),
        ({"model": 3}, "model"),
        ({"stream": "yes"}, "stream"),
        ({"lenght": 5}, "lenght"),
    ],
)
def test_invalid_json_values(raw, param):
    with pytest.raises(ApiError) as caught:
        parse(raw)
    assert caught.value.status == 400 and caught.value.param == param
    assert caught.value.type == "invalid_request"


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        ({"length": "five"}, "length"),
        ({"length": "1e3"}, "length"),
        ({"temperature": "nan"}, "temperature"),
        ({"temperature": "inf"}, "temperature"),
        ({"top_p": "0"}, "top_p"),
        ({"stream": "maybe"}, "stream"),
        ({"nsamples": "2.0"}, "nsamples"),
    ],
)
def test_invalid_query_values(raw, param):
    with pytest.raises(ApiError) as caught:
        parse(raw, from_query=True)
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("params", "prompt_tokens", "param"),
    [
        (SamplingParams(length=29), 100, "length"),  # context 128 - 100 = 28 left
        (SamplingParams(length=1), 128, "prefix"),  # no room at all
        (SamplingParams(length=51), 1, "length"),  # configured max 50
        (SamplingParams(top_k=513), 1, "top_k"),  # beyond the vocabulary
    ],
)
def test_model_dependent_limits(params, prompt_tokens, param):
    with pytest.raises(ApiError) as caught:
        check_fits_model(params, prompt_tokens=prompt_tokens, n_ctx=128, n_vocab=512, max_length=50)
    assert caught.value.param == param


def test_model_dependent_limits_accept_the_edges():
    check_fits_model(
        SamplingParams(length=28, top_k=512),
        prompt_tokens=100,
        n_ctx=128,
        n_vocab=512,
        max_length=50,
    )


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
