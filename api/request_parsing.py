"""Request parsing: one path from a query string or a JSON body to a GenerationRequest.

Every parameter is one row of data (`Parameter`: kind, default, range) that drives validation
here, the schemas in /openapi.json and the limits in /info alike. /generate and /v1/completions
differ only in their `Spelling` (the names and defaults they use); errors name what the client
sent. Pure and model-free: each model's own limits are checked by the serving core once the prompt
is encoded (serving/fit.py).
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from api.errors import invalid
from serving.sampling_params import (
    MAX_STOP_CHARS,
    MAX_STOPS,
    RANGES,
    Range,
    SamplingParams,
    engine_safe,
)

# Query text must spell a number the way JSON does: no "4_0", "+4", " 4", "inf" or "٤", and
# no leading zero. "-0" is refused (in JSON bodies too): no parameter takes a negative value.
_INTEGER_TEXT = re.compile(r"0|-?[1-9][0-9]*")
# Longer integers are outside every parameter's range; int() refuses texts over 4,300 digits.
MAX_INTEGER_DIGITS = 20
_NUMBER_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


@dataclass(frozen=True)
class Parameter:
    kind: str  # a JSON Schema type ("integer", "number", "string", "boolean"), or "stop"
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None  # for a string: its most characters
    above_minimum: bool = False  # the minimum itself is not allowed
    nullable: bool = False  # JSON null allowed (means the default)
    choices: tuple[str, ...] = ()  # the only strings allowed, when given
    description: str = ""

    def rule(self) -> str:
        """A numeric row's allowed range in words, for error messages (every one has a minimum)."""
        return self._range().words()

    def in_range(self, value) -> bool:
        return self.minimum is None or self._range().holds(value)

    def _range(self) -> Range:
        return Range(self.minimum, self.maximum, self.above_minimum)


@dataclass(frozen=True)
class RequestBounds:
    """What the served models and settings allow, across all models (each model's own limits
    are checked by serving.fit once the prompt is encoded)."""

    max_length: int  # the longest length any served model allows
    max_prefix_chars: int
    max_vocab: int | None  # the largest vocabulary; None when unknown
    models: tuple[str, ...]


def parameters(bounds: RequestBounds) -> dict[str, Parameter]:
    """The native parameters, by /generate's names."""
    d = SamplingParams()
    return {
        "prefix": Parameter(
            "string", "", maximum=bounds.max_prefix_chars, description="text to continue"
        ),
        "model": Parameter(
            "string",
            None,
            nullable=True,
            choices=bounds.models,
            description="a name from /models; null or absent: the server's default",
        ),
        "stream": Parameter("boolean", False, description="answer as a text/event-stream"),
        "length": Parameter(
            "integer",
            d.length,
            RANGES["length"].minimum,
            bounds.max_length,
            description="new tokens per sample; at most the model's context minus the prompt",
        ),
        "temperature": Parameter(
            "number", d.temperature, *_fixed("temperature"), description="0 = greedy"
        ),
        "top_k": Parameter(
            "integer",
            d.top_k,
            RANGES["top_k"].minimum,
            bounds.max_vocab,
            description="0 = no limit",
        ),
        "top_p": Parameter("number", d.top_p, *_fixed("top_p")),
        "seed": Parameter(
            "integer",
            None,
            *_fixed("seed"),
            nullable=True,
            description="same seed, parameters and model give the same text",
        ),
        "nsamples": Parameter("integer", d.nsamples, *_fixed("nsamples")),
        "stop": Parameter(
            "stop",
            None,
            nullable=True,
            description=f"end a sample where one of these (at most {MAX_STOPS}) appears",
        ),
    }


def _fixed(name: str) -> tuple:
    """A model-free range as a row's minimum, maximum, above_minimum."""
    allowed = RANGES[name]
    return allowed.minimum, allowed.maximum, allowed.above_minimum


@dataclass(frozen=True)
class Spelling:
    """A route's outside names for the native parameters, and its own defaults."""

    names: Mapping[str, str]  # outside name → native name
    defaults: Mapping[str, Any] = field(default_factory=dict)  # by native name

    def outside(self, native: str) -> str:
        return next((o for o, n in self.names.items() if n == native), native)


NATIVE_NAMES = (
    "prefix",
    "model",
    "stream",
    "length",
    "temperature",
    "top_k",
    "top_p",
    "seed",
    "nsamples",
    "stop",
)
NATIVE = Spelling({name: name for name in NATIVE_NAMES})


@dataclass(frozen=True)
class GenerationRequest:
    prefix: str
    model: str | None
    stream: bool
    params: SamplingParams
    spelling: Spelling = NATIVE  # errors found later name what the client sent

    def name(self, native: str) -> str:
        return self.spelling.outside(native)


def parse(
    raw: Mapping[str, Any], *, bounds: RequestBounds, spelling: Spelling = NATIVE, query: bool
) -> GenerationRequest:
    """Checks every given parameter against its row; unknown names are an error."""
    rows = parameters(bounds)
    values = {}
    for outside, value in raw.items():
        if outside not in spelling.names:
            known = ", ".join(sorted(spelling.names))
            raise invalid(f"unknown parameter {outside!r}; known: {known}", outside)
        native = spelling.names[outside]
        values[native] = _typed(outside, rows[native], value, query=query)
    given = {**spelling.defaults, **{k: v for k, v in values.items() if v is not None}}
    fields = {name: given[name] for name in SamplingParams.__dataclass_fields__ if name in given}
    return GenerationRequest(
        prefix=given.get("prefix", ""),
        model=given.get("model"),
        stream=given.get("stream", False),
        params=engine_safe(SamplingParams(**fields)),
        spelling=spelling,
    )


def _typed(name: str, row: Parameter, value, *, query: bool):
    if value is None:
        if row.nullable:
            return None
        raise invalid(f"{name} must not be null", name)
    if row.kind == "stop":
        return _stop_strings(name, value)
    if query:
        value = _from_text(name, row.kind, value)
    if not _has_kind(value, row.kind):
        raise invalid(f"{name} must be {_TYPE_WORDS[row.kind]}", name)
    if row.kind == "string":
        return _checked_string(name, row, value)
    if not row.in_range(value):
        raise invalid(f"{name} must be {row.rule()}; got {value!r}", name)
    return float(value) if row.kind == "number" else value


_TYPE_WORDS = {
    "integer": "an integer (digits only, no fraction or exponent)",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
}


def _from_text(name: str, kind: str, raw: str):
    """A query-string value as its kind; the value as it was for strings."""
    if kind == "integer" and _INTEGER_TEXT.fullmatch(raw):
        return integer(raw, name)
    if kind == "number" and _NUMBER_TEXT.fullmatch(raw):
        return float(raw)
    if kind == "boolean" and raw.lower() in _TRUE | _FALSE:
        return raw.lower() in _TRUE
    if kind == "string":
        return raw
    raise invalid(f"{name} must be {_TYPE_WORDS[kind]}, not {raw[:40]!r}", name)


def integer(text: str, name: str | None = None) -> int:
    """An integer's digits (JSON's spelling, already checked) as an int, refusing lengths no
    parameter takes before int() sees them."""
    if text == "-0":
        raise invalid("-0 is not an integer here; send 0", name)
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise invalid(f"an integer of {digits} digits is outside every range", name)
    return int(text)


def _has_kind(value, kind: str) -> bool:
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "integer":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, str) and kind == "string"


def _checked_string(name: str, row: Parameter, value: str) -> str:
    if row.maximum is not None and len(value) > row.maximum:
        raise invalid(f"{name} is {len(value)} characters; the limit is {row.maximum}", name)
    if row.choices and value not in row.choices:
        raise invalid(f"no model named {value[:80]!r}; served: {', '.join(row.choices)}", name)
    return value


def _stop_strings(name: str, value) -> tuple[str, ...]:
    stops = [value] if isinstance(value, str) else value
    valid = isinstance(stops, list | tuple) and all(isinstance(s, str) and s for s in stops)
    if not valid or not stops:
        raise invalid(f"{name} must be a non-empty string or a non-empty list of them", name)
    if len(stops) > MAX_STOPS:
        raise invalid(f"{name} takes at most {MAX_STOPS} strings", name)
    if any(len(stop) > MAX_STOP_CHARS for stop in stops):
        raise invalid(f"{name} strings are at most {MAX_STOP_CHARS} characters each", name)
    return tuple(stops)
