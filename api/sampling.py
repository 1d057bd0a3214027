"""Sampling parameters: parsing and validation, pure and model-free except `check_fits_model`.

Every request parameter has one row in PARAMETERS: its type, default and allowed range. Query
strings (GET) arrive as text and are converted; JSON bodies (POST) must carry the right types.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from api.errors import invalid

MAX_NSAMPLES = 8
MAX_STOPS = 4
MAX_SEED = 2**63 - 1


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
class GenerateArgs:
    prefix: str
    model: str | None
    stream: bool
    params: SamplingParams


@dataclass(frozen=True)
class Parameter:
    kind: str  # "int" | "float" | "str" | "bool" | "stop"
    check: Callable[[Any], bool] | None = None
    rule: str = ""  # the allowed range, in words, for the error message
    nullable: bool = False


PARAMETERS: dict[str, Parameter] = {
    "prefix": Parameter("str"),
    "model": Parameter("str", nullable=True),
    "stream": Parameter("bool"),
    "length": Parameter("int", lambda v: v >= 1, "at least 1"),
    "temperature": Parameter("float", lambda v: 0 <= v <= 2, "between 0 and 2"),
    "top_k": Parameter("int", lambda v: v >= 0, "at least 0 (0 = no limit)"),
    "top_p": Parameter("float", lambda v: 0 < v <= 1, "above 0 and at most 1"),
    "seed": Parameter("int", lambda v: 0 <= v <= MAX_SEED, "between 0 and 2^63-1", True),
    "nsamples": Parameter("int", lambda v: 1 <= v <= MAX_NSAMPLES, f"between 1 and {MAX_NSAMPLES}"),
    "stop": Parameter("stop", nullable=True),
}

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def _from_text(name: str, kind: str, raw: str):
    """Converts a query-string value; ValueError when it does not spell the type."""
    if kind == "int":
        return int(raw)
    if kind == "float":
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
        return value
    if kind == "bool":
        if raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
        raise ValueError(raw)
    return raw


def _typed(name: str, spec: Parameter, value, *, from_query: bool):
    if value is None:
        if spec.nullable:
            return None
        raise invalid(f"{name} must not be null", name)
    if spec.kind == "stop":
        return _stop_strings(name, value)
    if from_query and isinstance(value, str):
        try:
            value = _from_text(name, spec.kind, value)
        except ValueError:
            raise invalid(f"{name} must be {_TYPE_WORDS[spec.kind]}, not {value!r}", name) from None
    if not _has_kind(value, spec.kind):
        raise invalid(f"{name} must be {_TYPE_WORDS[spec.kind]}", name)
    if spec.check and not spec.check(value):
        raise invalid(f"{name} must be {spec.rule}; got {value!r}", name)
    return float(value) if spec.kind == "float" else value


_TYPE_WORDS = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true/false"}


def _has_kind(value, kind: str) -> bool:
    if isinstance(value, bool):
        return kind == "bool"
    if kind == "int":
        return isinstance(value, int)
    if kind == "float":
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, {"str": str, "bool": bool}[kind])


def _stop_strings(name: str, value) -> tuple[str, ...]:
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list | tuple) or not all(isinstance(s, str) and s for s in stops):
        raise invalid(f"{name} must be a non-empty string or a list of them", name)
    if len(stops) > MAX_STOPS:
        raise invalid(f"{name} takes at most {MAX_STOPS} strings", name)
    return tuple(stops)


def parse_values(raw: Mapping[str, Any], *, from_query: bool, names=None) -> dict[str, Any]:
    """Checks every given parameter against its row; unknown names are an error.

    `names` maps accepted outside names (e.g. OpenAI's) to PARAMETERS rows; errors use the
    outside name, since that is what the client sent.
    """
    names = names or {name: name for name in PARAMETERS}
    values = {}
    for outside, value in raw.items():
        if outside not in names:
            known = ", ".join(sorted(names))
            raise invalid(f"unknown parameter {outside!r}; known: {known}", outside)
        inside = names[outside]
        values[inside] = _typed(outside, PARAMETERS[inside], value, from_query=from_query)
    return values


def generate_args(raw: Mapping[str, Any], *, from_query: bool, max_prefix_chars: int):
    values = parse_values(raw, from_query=from_query)
    prefix = values.pop("prefix", "")
    if len(prefix) > max_prefix_chars:
        raise invalid(
            f"prefix is {len(prefix)} characters; the limit is {max_prefix_chars}", "prefix"
        )
    model = values.pop("model", None)
    stream = values.pop("stream", False)
    params = SamplingParams(**{k: v for k, v in values.items() if v is not None or k == "seed"})
    return GenerateArgs(prefix=prefix, model=model, stream=stream, params=params)


def check_fits_model(
    params: SamplingParams,
    *,
    prompt_tokens: int,
    n_ctx: int,
    n_vocab: int,
    max_length: int,
    names: Mapping[str, str] | None = None,
) -> None:
    """The model-dependent ranges: top_k within the vocabulary, length within the context."""
    names = names or {}
    if params.top_k > n_vocab:
        param = names.get("top_k", "top_k")
        raise invalid(f"{param} must be at most the vocabulary size {n_vocab}", param)
    room = n_ctx - prompt_tokens
    param = names.get("length", "length")
    if room < 1:
        prefix = names.get("prefix", "prefix")
        raise invalid(
            f"the {prefix} is {prompt_tokens} tokens and fills the {n_ctx}-token context; "
            "shorten it",
            prefix,
        )
    limit = min(max_length, room)
    if params.length > limit:
        raise invalid(
            f"{param} must be at most {limit} (limit {max_length}; context {n_ctx} minus "
            f"{prompt_tokens} prompt tokens)",
            param,
        )
