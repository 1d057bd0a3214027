"""Request parsing: one path from a query string or a JSON body to a GenerationRequest.

Every parameter is one row of data (`Parameter`: kind, default, range) that drives validation
here, the schemas in /openapi.json and the limits in /info alike. /generate and /v1/completions
differ only in their `Spelling` (the names and defaults they use); errors name what the client
sent. Pure and model-free except `check_fits_model`, which needs the model's sizes.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from api.errors import invalid

MAX_NSAMPLES = 8
MAX_STOPS = 4
MAX_STOP_CHARS = 200
MAX_SEED = 2**63 - 1
# float32's smallest normal number: a top_p below it is 0 to the engines, which sample in
# float32 and refuse top_p = 0; it is clamped up, which keeps only the likeliest token as asked.
FLOAT32_TINY = 2.0**-126
# Logits divided by a temperature this small overflow float32; the choice is the greedy one.
GREEDY_BELOW = 1e-6

# Query text must spell a number the way JSON does: no "4_0", "+4", " 4", "inf" or "٤".
_INTEGER_TEXT = re.compile(r"-?[0-9]+")
_NUMBER_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


@dataclass(frozen=True)
class SamplingParams:
    length: int = 64  # new tokens per sample
    temperature: float = 0.7  # 0 = greedy
    top_k: int = 0  # 0 = no limit
    top_p: float = 1.0
    seed: int | None = None
    nsamples: int = 1
    stop: tuple[str, ...] = ()

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


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
        if self.maximum is None:
            return f"{'above' if self.above_minimum else 'at least'} {self.minimum:g}"
        if self.above_minimum:
            return f"above {self.minimum:g} and at most {self.maximum:g}"
        return f"between {self.minimum:g} and {self.maximum:g}"

    def in_range(self, value) -> bool:
        if self.minimum is not None and (
            value <= self.minimum if self.above_minimum else value < self.minimum
        ):
            return False
        return self.maximum is None or value <= self.maximum


@dataclass(frozen=True)
class RequestBounds:
    """What the served models and settings allow, across all models (each model's own limits
    are checked by `check_fits_model` once the prompt is encoded)."""

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
            1,
            bounds.max_length,
            description="new tokens per sample; at most the model's context minus the prompt",
        ),
        "temperature": Parameter("number", d.temperature, 0, 2, description="0 = greedy"),
        "top_k": Parameter("integer", d.top_k, 0, bounds.max_vocab, description="0 = no limit"),
        "top_p": Parameter("number", d.top_p, 0, 1, above_minimum=True),
        "seed": Parameter(
            "integer",
            None,
            0,
            MAX_SEED,
            nullable=True,
            description="same seed, parameters and model give the same text",
        ),
        "nsamples": Parameter("integer", d.nsamples, 1, MAX_NSAMPLES),
        "stop": Parameter(
            "stop",
            None,
            nullable=True,
            description=f"end a sample where one of these (at most {MAX_STOPS}) appears",
        ),
    }


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
        params=_engine_safe(SamplingParams(**fields)),
        spelling=spelling,
    )


def _engine_safe(params: SamplingParams) -> SamplingParams:
    """Values inside the documented range that float32 engines cannot take as they are."""
    temperature = 0.0 if params.temperature < GREEDY_BELOW else params.temperature
    return replace(params, temperature=temperature, top_p=max(params.top_p, FLOAT32_TINY))


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
        return int(raw)
    if kind == "number" and _NUMBER_TEXT.fullmatch(raw):
        return float(raw)
    if kind == "boolean" and raw.lower() in _TRUE | _FALSE:
        return raw.lower() in _TRUE
    if kind == "string":
        return raw
    raise invalid(f"{name} must be {_TYPE_WORDS[kind]}, not {raw[:40]!r}", name)


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


def check_fits_model(
    request: GenerationRequest, *, prompt_tokens: int, n_ctx: int, n_vocab: int, max_length: int
) -> None:
    """The model-dependent ranges: top_k within the vocabulary, length within the context."""
    params = request.params
    if params.top_k > n_vocab:
        param = request.name("top_k")
        raise invalid(f"{param} must be at most the vocabulary size {n_vocab}", param)
    room = n_ctx - prompt_tokens
    if room < 1:
        prefix = request.name("prefix")
        raise invalid(
            f"the {prefix} is {prompt_tokens} tokens and fills the {n_ctx}-token context; "
            "shorten it",
            prefix,
        )
    limit = min(max_length, room)
    if params.length > limit:
        param = request.name("length")
        raise invalid(
            f"{param} must be at most {limit} (limit {max_length}; context {n_ctx} minus "
            f"{prompt_tokens} prompt tokens)",
            param,
        )


def longest_length(*, max_length: int, n_ctx: int) -> int:
    """A model's longest sample: the setting, and room for at least a one-token prompt."""
    return min(max_length, n_ctx - 1)
