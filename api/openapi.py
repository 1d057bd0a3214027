"""The OpenAPI 3.1 description of every endpoint, parameter and error, served at /openapi.json.

Parameter schemas are generated from the rows in api.request_parsing that the validation runs
on, in each route's spelling, so ranges and defaults are written once. What a schema cannot say
(whether the prompt plus `length` fits the model's context) is the one 400 a valid-looking request
can still get; it names the parameter to change.
"""

from api.request_parsing import NATIVE, Parameter, RequestBounds, Spelling, parameters
from api.routes.openai_compat import MAX_USER_CHARS, NEUTRAL, SPELLING
from serving.sampling_params import MAX_STOP_CHARS, MAX_STOPS

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param"],
            "properties": {
                "message": {"type": "string"},
                "type": {
                    "type": "string",
                    "enum": ["invalid_request", "not_found", "overloaded", "not_ready", "internal"],
                },
                "param": {"type": ["string", "null"]},
            },
        }
    },
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
# Each server-sent event, as an event-stream parser gives it: `data` holds one JSON object (or
# OpenAI's closing `[DONE]`).
SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
}
INTEGER_NOTE = "JSON integers are written without a fraction or exponent (21, not 21.0)"


def _error(description: str, *, retry: bool = False) -> dict:
    response = {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }
    if retry:
        response["headers"] = RETRY_AFTER
    return response


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def parameter_schema(row: Parameter, *, query: bool, default=None) -> dict:
    """One row as JSON Schema; a query string has no null, and repeats `stop` for several."""
    default = row.default if default is None else default
    if row.kind == "stop":
        text = {"type": "string", "minLength": 1, "maxLength": MAX_STOP_CHARS}
        many = {"type": "array", "items": text, "minItems": 1, "maxItems": MAX_STOPS}
        schema = many if query else {"oneOf": [text, many, {"type": "null"}]}
    else:
        nullable = row.nullable and not query
        schema = {"type": [row.kind, "null"] if nullable else row.kind}
        if row.choices:
            schema["enum"] = [*row.choices, *([None] if nullable else [])]
        if row.minimum is not None:
            schema["exclusiveMinimum" if row.above_minimum else "minimum"] = row.minimum
        if row.maximum is not None:
            schema["maxLength" if row.kind == "string" else "maximum"] = row.maximum
    if default is not None:
        schema["default"] = default
    notes = [row.description, INTEGER_NOTE if row.kind == "integer" else ""]
    if any(notes):
        schema["description"] = "; ".join(note for note in notes if note)
    return schema


def spelled_parameters(bounds: RequestBounds, spelling: Spelling, *, query: bool) -> dict:
    rows = parameters(bounds)
    return {
        outside: parameter_schema(rows[native], query=query, default=spelling.defaults.get(native))
        for outside, native in spelling.names.items()
    }


def _refusals(*, invalid: str) -> dict:
    return {
        "400": _error(invalid),
        "413": _error("JSON body over 64 KB (nginx)"),
        "414": _error("request line over 16 KB (nginx): send long prefixes in a POST body"),
        "415": _error("a POST body that is not Content-Type: application/json"),
        "429": _error("too many requests or sequences from this client", retry=True),
        "500": _error("internal error; no details are exposed"),
        "503": _error("overloaded (admission limit or queue wait) or not ready", retry=True),
    }


def _generate_paths(bounds: RequestBounds) -> dict:
    query = [
        {"name": name, "in": "query", "schema": schema, "explode": True}
        for name, schema in spelled_parameters(bounds, NATIVE, query=True).items()
    ]
    final = (
        "text/event-stream: {index, text} events, then one final event "
        '{"done": true, finish_reason, samples, usage, timing_ms} or one error event; '
        "a stream that ends with neither was cut"
    )
    answers = {
        "200": {
            "description": f"the samples, or with stream=true {final}",
            "content": {
                "application/json": {"schema": _ref("Generation")},
                "text/event-stream": {"schema": SSE_EVENT},
            },
        },
        **_refusals(
            invalid="invalid, unknown or repeated parameter, unknown model, a prefix that leaves "
            "no room for `length`, or a malformed JSON body (duplicate keys, nesting over 16 "
            "levels, unpaired surrogates)"
        ),
    }
    properties = spelled_parameters(bounds, NATIVE, query=False)
    body = {"type": "object", "properties": properties, "additionalProperties": False}
    return {
        "get": {"summary": "Continue a prefix", "parameters": query, "responses": answers},
        "post": {
            "summary": "Continue a prefix (JSON body)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": answers,
        },
    }


def _completions_path(bounds: RequestBounds, spelling: Spelling, neutral: dict) -> dict:
    properties = spelled_parameters(bounds, spelling, query=False)
    prompt = properties["prompt"]
    one = {"type": "array", "items": prompt, "minItems": 1, "maxItems": 1}
    properties["prompt"] = {"oneOf": [prompt, one], "default": prompt.pop("default")}
    properties["stream"]["description"] = (
        "chunks in OpenAI's format; a finished stream ends with `data: [DONE]`, a failed one "
        "with an error event; one that ends with neither was cut"
    )
    include_usage = {"include_usage": {"type": "boolean", "default": False}}
    properties["stream_options"] = {
        "type": ["object", "null"],
        "properties": include_usage,
        "additionalProperties": False,
    }
    properties["user"] = {
        "type": "string",
        "maxLength": MAX_USER_CHARS,
        "description": "only for the caller's bookkeeping",
    }
    for name, values in neutral.items():
        properties[name] = {"enum": list(values), "description": "only this neutral value"}
    body = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        # stream_options (an object) only beside stream: true, as OpenAI's API has it.
        "if": {
            "required": ["stream_options"],
            "properties": {"stream_options": {"type": "object"}},
        },
        "then": {"required": ["stream"], "properties": {"stream": {"const": True}}},
    }
    return {
        "post": {
            "summary": "OpenAI-compatible completions",
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {
                "200": {
                    "description": "a text_completion object, or its chunks as events",
                    "content": {
                        "application/json": {"schema": _ref("Completion")},
                        "text/event-stream": {"schema": SSE_EVENT},
                    },
                },
                **_refusals(invalid="invalid or unsupported parameter, or unknown model"),
            },
        }
    }


def _simple(summary: str, schema: dict, *, not_ready: bool = False) -> dict:
    responses = {
        "200": {"description": summary, "content": {"application/json": {"schema": schema}}}
    }
    if not_ready:
        responses["503"] = _error("not loaded or not warm yet", retry=True)
    return {"get": {"summary": summary, "responses": responses}}


SCHEMAS = {
    "Error": ERROR,
    "Generation": {
        "type": "object",
        "properties": {
            "model": {"type": "string"},
            "prefix": {"type": "string"},
            "samples": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string"},
                        "finish_reason": {"enum": ["length", "stop", "eos"]},
                        "tokens": {"type": "integer"},
                    },
                },
            },
            "usage": {
                "type": "object",
                "properties": {
                    "prompt_tokens": {"type": "integer"},
                    "completion_tokens": {"type": "integer"},
                },
            },
            "timing_ms": {
                "type": "object",
                "properties": {"queue": {"type": "number"}, "inference": {"type": "number"}},
            },
        },
    },
    "Completion": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "text_completion"},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": {"type": "integer"},
                        "text": {"type": "string"},
                        "logprobs": {"type": "null"},
                        "finish_reason": {"enum": ["stop", "length"]},
                    },
                },
            },
            "usage": {"type": "object"},
        },
    },
}


def document(bounds: RequestBounds) -> dict:

    not_found = {
        "description": "unknown path (JSON error, type not_found); a known path with "
        "the wrong method answers 405 with the same shape"
    }
    paths = {
        "/generate": _generate_paths(bounds),
        "/v1/completions": _completions_path(bounds, SPELLING, NEUTRAL),
        "/v1/models": _simple("OpenAI-style model list", {"type": "object"}),
        "/models": _simple(
            "served models (context, vocabulary, longest length each) and the default",
            {"type": "object"},
        ),
        "/info": _simple("engine, default model, each model's limits", {"type": "object"}),
        "/healthz": _simple("the process is alive", {"type": "object"}),
        "/readyz": _simple("models loaded and warm", {"type": "object"}, not_ready=True),
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "403": _error(
                        "through nginx, only from loopback and private networks by default "
                        "(GHOST_NGINX_METRICS_ALLOW)"
                    ),
                },
            }
        },
        "/openapi.json": _simple("this document", {"type": "object"}),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ghostwriter API",
            "version": "1",
            "description": "Text generation in a corpus's style. Every error has the "
            "shape of components.schemas.Error. " + not_found["description"],
        },
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
