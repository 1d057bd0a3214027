"""Strict JSON bodies as pure functions: every hostile body is a 400 that says why."""

import json

import pytest

from api.errors import ApiError
from api.json_body import MAX_JSON_DEPTH, json_body


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('{"prefix": "a", "prefix": "b"}', "prefix is given 2 times"),
        ('{"stop": {"x": 1, "x": 2}}', "x is given 2 times"),
        ('{"prefix": "\\ud800"}', "surrogate"),
        ('{"prefix": "\\udc00x"}', "surrogate"),
        ('{"\\ud800": 1}', "surrogate"),
        ("[" * 10_000 + "]" * 10_000, "nests deeper"),
        ('{"a":' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1), "nests deeper"),
        ('{"length": NaN}', "not a JSON number"),
        ('{"length": Infinity}', "not a JSON number"),
        ('{"length": 1' + "0" * 5000 + "}", "5001 digits"),
        ('{"length": -' + "9" * 21 + "}", "21 digits"),
        ('{"length": -0}', "-0 is not an integer"),
        ('{"prefix": "a"', "not valid JSON"),
    ],
)
def test_hostile_json_bodies_are_400s(body, says):
    with pytest.raises(ApiError) as caught:
        json_body(body)
    assert caught.value.status == 400 and says in caught.value.message


def test_json_bodies_as_clients_write_them():
    nested = {"stop": ["[", "{{{", '"]'], "prefix": "a \\ [ { 😀"}
    assert json_body(json.dumps(nested)) == nested
    assert json_body(json.dumps(nested, ensure_ascii=False)) == nested
    assert json_body('{"prefix": "' + "[" * 100 + '"}') == {"prefix": "[" * 100}
    assert json_body('{"prefix": "\\ud83d\\ude00"}') == {"prefix": "😀"}  # a paired surrogate
