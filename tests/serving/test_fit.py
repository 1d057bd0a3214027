"""serving.fit as a pure function: each model's own limits, in the client's words."""

import re

import pytest

from serving.errors import InvalidRequest
from serving.fit import check_fits
from serving.sampling_params import RANGES, SamplingParams, check_ranges

SIZES = {"n_ctx": 128, "n_vocab": 512, "kv_tokens": 512, "max_length": 50}
OPENAI_NAMES = {"prefix": "prompt", "length": "max_tokens"}


@pytest.mark.parametrize(
    ("params", "prompt_tokens", "param"),
    [
        (SamplingParams(length=29), 100, "length"),  # context 128 - 100 = 28 left
        (SamplingParams(length=1), 128, "prefix"),  # no room at all
        (SamplingParams(length=51), 1, "length"),  # configured max 50
        (SamplingParams(top_k=513), 1, "top_k"),  # beyond the vocabulary
    ],
)
def test_model_dependent_limits_name_the_clients_parameter(params, prompt_tokens, param):
    with pytest.raises(InvalidRequest) as caught:
        check_fits(
            params, prompt_tokens=prompt_tokens, name=lambda n: OPENAI_NAMES.get(n, n), **SIZES
        )
    outside = OPENAI_NAMES.get(param, param)
    assert caught.value.param == outside and outside in caught.value.message


def test_model_dependent_limits_accept_the_edges():
    check_fits(SamplingParams(length=28, top_k=512), prompt_tokens=100, **SIZES)


def test_a_sequence_past_the_kv_budget_is_refused():
    sizes = {**SIZES, "kv_tokens": 100}
    with pytest.raises(InvalidRequest, match="holds at most 100 per sequence") as caught:
        check_fits(SamplingParams(length=20), prompt_tokens=90, **sizes)
    assert caught.value.param == "length"
    check_fits(SamplingParams(length=10), prompt_tokens=90, **sizes)


@pytest.mark.parametrize(
    ("field", "bad", "edge"),
    [
        ("length", 0, 1),
        ("temperature", 2.01, 2.0),
        ("top_k", -1, 0),
        ("top_p", 0.0, 1.0),
        ("seed", -1, 0),
        ("nsamples", 9, 8),
    ],
)
def test_model_free_ranges(field, bad, edge):
    with pytest.raises(InvalidRequest, match=re.escape(RANGES[field].words())) as caught:
        check_ranges(SamplingParams(**{field: bad}))
    assert caught.value.param == field
    check_ranges(SamplingParams(**{field: edge}))
