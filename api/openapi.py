"""The OpenAPI 3.1 description of every endpoint, parameter and error, served at /openapi.json.

Parameter ranges come from the same settings the validation uses, so the document and the
server cannot disagree.
"""

from api.config import Settings
from api.sampling import MAX_NSAMPLES, MAX_SEED, MAX_STOPS, SamplingParams

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


def generation_parameters(settings: Settings) -> dict:
    """Schemas of /generate's parameters, with their defaults and ranges."""
    d = SamplingParams()
    stops = {"type": "string", "minLength": 1}
    return {
        "prefix": {
            "type": "string",
            "default": "",
            "maxLength": settings.max_prefix_chars,
            "description": "text to continue; any UTF-8",
        },
        "length": {
            "type": "integer",
            "default": d.length,
            "minimum": 1,
            "maximum": settings.max_length,
            "description": "new tokens per sample; at most the context minus the prompt",
        },
        "temperature": {
            "type": "number",
            "default": d.temperature,
            "minimum": 0,
            "maximum": 2,
            "description": "0 = greedy",
        },
        "top_k": {
            "type": "integer",
            "default": d.top_k,
            "minimum": 0,
            "description": "0 = no limit; at most the vocabulary size",
        },
        "top_p": {"type": "number", "default": d.top_p, "exclusiveMinimum": 0, "maximum": 1},
        "seed": {
            "type": ["integer", "null"],
            "minimum": 0,
            "maximum": MAX_SEED,
            "description": "same seed, parameters and model give the same text",
        },
        "nsamples": {"type": "integer", "default": 1, "minimum": 1, "maximum": MAX_NSAMPLES},
        "stop": {
            "oneOf": [stops, {"type": "array", "items": stops, "maxItems": MAX_STOPS}],
            "description": "end a sample where one of these strings appears",
        },
        "model": {"type": "string", "description": "a name from /models; default: the server's"},
        "stream": {
            "type": "boolean",
            "default": False,
            "description": "text/event-stream: {index, text} events, then a final event "
            "with finish_reason, samples, usage, timing_ms",
        },
    }


def _generate_paths(settings: Settings) -> dict:
    params = generation_parameters(settings)
    query = [{"name": n, "in": "query", "schema": s} for n, s in params.items()]
    for parameter in query:
        if parameter["name"] == "stop":
            parameter["explode"] = True  # repeat it for several strings
    answers = {
        "200": {
            "description": "the samples (or an event stream with stream=true)",
            "content": {
                "application/json": {"schema": _ref("Generation")},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        },
        "400": _error(
            "invalid parameter, unknown parameter name, unknown model, or a prefix "
            "that leaves no room for `length`"
        ),
        "503": _error("overloaded (admission limit or queue wait) or not ready", retry=True),
        "500": _error("internal error; no details are exposed"),
    }
    body = {
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": params, "additionalProperties": False}
            }
        }
    }
    return {
        "get": {"summary": "Continue a prefix", "parameters": query, "responses": answers},
        "post": {
            "summary": "Continue a prefix (JSON body)",
            "requestBody": body,
            "responses": answers,
        },
    }


def _completions_path() -> dict:
    stops = {"type": "string", "minLength": 1}
    body = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "model": {"type": "string"},
            "prompt": {
                "oneOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "maxItems": 1},
                ]
            },
            "max_tokens": {"type": "integer", "default": 16, "minimum": 1},
            "temperature": {"type": "number", "default": 1, "minimum": 0, "maximum": 2},
            "top_p": {"type": "number", "default": 1, "exclusiveMinimum": 0, "maximum": 1},
            "top_k": {"type": "integer", "default": 0, "minimum": 0},
            "n": {"type": "integer", "default": 1, "minimum": 1, "maximum": MAX_NSAMPLES},
            "stop": {"oneOf": [stops, {"type": "array", "items": stops, "maxItems": MAX_STOPS}]},
            "seed": {"type": ["integer", "null"], "minimum": 0},
            "stream": {
                "type": "boolean",
                "default": False,
                "description": "chunks in OpenAI's format, ending with `data: [DONE]`",
            },
            "stream_options": {
                "type": "object",
                "properties": {"include_usage": {"type": "boolean"}},
            },
            "user": {"type": "string"},
            "echo": {"const": False},
            "logprobs": {"type": "null"},
            "suffix": {"type": "null"},
            "best_of": {"enum": [None, 1]},
            "presence_penalty": {"enum": [None, 0]},
            "frequency_penalty": {"enum": [None, 0]},
            "logit_bias": {"enum": [None, {}]},
        },
    }
    return {
        "post": {
            "summary": "OpenAI-compatible completions",
            "requestBody": {"content": {"application/json": {"schema": body}}},
            "responses": {
                "200": {
                    "description": "a text_completion object, or its chunks as events",
                    "content": {
                        "application/json": {"schema": _ref("Completion")},
                        "text/event-stream": {"schema": {"type": "string"}},
                    },
                },
                "400": _error("invalid or unsupported parameter, or unknown model"),
                "503": _error("overloaded or not ready", retry=True),
                "500": _error("internal error"),
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


def document(settings: Settings) -> dict:
    not_found = {
        "description": "unknown path (JSON error, type not_found); a known path with "
        "the wrong method answers 405 with the same shape"
    }
    paths = {
        "/generate": _generate_paths(settings),
        "/v1/completions": _completions_path(),
        "/v1/models": _simple("OpenAI-style model list", {"type": "object"}),
        "/models": _simple("served models and the default", {"type": "object"}),
        "/info": _simple("engine, default model, context size, limits", {"type": "object"}),
        "/healthz": _simple("the process is alive", {"type": "object"}),
        "/readyz": _simple("models loaded and warm", {"type": "object"}, not_ready=True),
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
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
