"""JSON request bodies, parsed strictly: hostile bodies are refused before Python's parser sees
them, with a 400 that says why: duplicate keys (ambiguous: which one wins?), deep nesting (the
parser recurses), non-numbers (NaN, Infinity) and unpaired UTF-16 surrogates (not text)."""

import json
import re
from itertools import accumulate
from typing import Any

from api.errors import invalid
from api.request_parsing import integer

MAX_JSON_DEPTH = 16
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_body(text: str) -> Any:
    """The JSON value of a request body; 400 for anything a JSON client would not send."""
    if json_depth(text) > MAX_JSON_DEPTH:
        raise invalid(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(
            text, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_int=integer
        )
    except ValueError as error:
        raise invalid(f"the body is not valid JSON: {str(error)[:120]}") from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise invalid("the JSON body has an unpaired UTF-16 surrogate (\\ud800-\\udfff)") from None
    return value


def json_depth(text: str) -> int:
    """How deep brackets nest outside strings, without recursion. Measured on the 2-core dev
    machine: ~10 ms for 60 KB of nothing but brackets (nginx caps bodies at 64 KB), well under
    0.1 ms for an ordinary request."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise invalid(f"{key} is given {keys.count(key)} times; give it once", key)
    return dict(pairs)


def _no_constant(name: str):
    raise invalid(f"{name} is not a JSON number; send a finite number")
