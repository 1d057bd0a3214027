"""Request parsing as pure functions, without a model: every hostile spelling is a 400."""

import pytest

from api.errors import ApiError
from api.request_parsing import NATIVE, GenerationRequest, RequestBounds, Spelling, parse
from serving.sampling_params import FLOAT32_TINY, SamplingParams

BOUNDS = RequestBounds(max_length=50, max_prefix_chars=100, max_vocab=512, models=("tiny",))


def parsed(raw, *, query=False, spelling=NATIVE) -> GenerationRequest:
    return parse(raw, bounds=BOUNDS, spelling=spelling, query=query)


def rejected(raw, *, query=False, spelling=NATIVE) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parsed(raw, query=query, spelling=spelling)
    assert caught.value.status == 400 and caught.value.type == "invalid_request"
    return caught.value


def test_defaults():
    request = parsed({})
    assert request.prefix == "" and request.model is None and request.stream is False
    assert request.params == SamplingParams()


def test_query_strings_are_converted():
    request = parsed(
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
        query=True,
    )
    assert request.params == SamplingParams(
        length=5, temperature=0.0, top_k=40, top_p=0.9, seed=7, nsamples=2, stop=("\n", ".")
    )
    assert request.stream is True and request.model == "tiny" and request.prefix == "Ash"


def test_null_means_the_default_where_the_schema_allows_it():
    request = parsed({"model": None, "seed": None, "stop": None})
    assert request.model is None and request.params == SamplingParams()


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        ({"length": 0}, "length"),
        ({"length": 51}, "length"),  # over the longest length the served models allow
        ({"length": 1.5}, "length"),
        ({"length": 21.0}, "length"),  # an integer is written without a fraction
        ({"length": "5"}, "length"),  # JSON must carry numbers as numbers
        ({"length": True}, "length"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": 2.01}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_k": -1}, "top_k"),
        ({"top_k": 513}, "top_k"),
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
        ({"model": "other"}, "model"),
        ({"stream": "yes"}, "stream"),
        ({"stream": None}, "stream"),
        ({"lenght": 5}, "lenght"),
    ],
)
def test_invalid_json_values(raw, param):
    assert rejected(raw).param == param


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        ({"length": "five"}, "length"),
        ({"length": "1e3"}, "length"),
        ({"length": "4_0"}, "length"),
        ({"length": "+4"}, "length"),
        ({"length": " 4"}, "length"),
        ({"length": "4 "}, "length"),
        ({"length": "٤"}, "length"),  # an Arabic-Indic digit: int() takes it, JSON does not
        ({"temperature": "nan"}, "temperature"),
        ({"temperature": "inf"}, "temperature"),
        ({"temperature": "0_5"}, "temperature"),
        ({"temperature": "1e999"}, "temperature"),
        ({"top_p": "0"}, "top_p"),
        ({"stream": "maybe"}, "stream"),
        ({"nsamples": "2.0"}, "nsamples"),
    ],
)
def test_invalid_query_values(raw, param):
    assert rejected(raw, query=True).param == param


def test_values_float32_engines_cannot_take_are_clamped_inside_the_range():
    params = parsed({"top_p": 1e-320, "temperature": 1e-300}).params
    assert params.top_p == FLOAT32_TINY and params.temperature == 0.0 and params.greedy


def test_a_spelling_maps_names_and_defaults_and_errors_use_its_names():
    spelling = Spelling({"prompt": "prefix", "max_tokens": "length"}, defaults={"length": 16})
    request = parsed({"prompt": "Ash"}, spelling=spelling)
    assert request.prefix == "Ash" and request.params.length == 16
    assert rejected({"max_tokens": 0}, spelling=spelling).param == "max_tokens"
    assert rejected({"prefix": "Ash"}, spelling=spelling).param == "prefix"  # not its name
