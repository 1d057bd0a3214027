"""POST /v1/completions and GET /v1/models, in the OpenAI API's shapes.

Existing OpenAI clients work by pointing `base_url` at this server. Parameters map onto the
native ones (prompt→prefix, max_tokens→length, n→nsamples); OpenAI's options that this server
cannot honour are accepted only at their neutral values, so nothing is silently ignored.
"""

import logging
import time
import uuid

from flask import Blueprint, jsonify

from api import sse
from api.errors import invalid
from api.request_parsing import GenerationRequest, Spelling, parse
from api.routes.generation_start import start
from api.routes.request_input import json_object, model_bounds, request_bounds
from api.service import current
from serving.generation import Generation

log = logging.getLogger(__name__)
bp = Blueprint("openai", __name__, url_prefix="/v1")

# OpenAI's names for the native parameters, and its defaults where they differ from /generate's.
SPELLING = Spelling(
    names={
        "model": "model",
        "prompt": "prefix",
        "max_tokens": "length",
        "temperature": "temperature",
        "top_p": "top_p",
        "top_k": "top_k",
        "n": "nsamples",
        "stop": "stop",
        "seed": "seed",
        "stream": "stream",
    },
    defaults={"length": 16, "temperature": 1.0},
)
# OpenAI options accepted only at the values that change nothing (as JSON values: false is not 0).
NEUTRAL = {
    "echo": (False,),
    "logprobs": (None,),
    "best_of": (None, 1),
    "presence_penalty": (None, 0, 0.0),
    "frequency_penalty": (None, 0, 0.0),
    "logit_bias": (None, {}),
    "suffix": (None,),
}
MAX_USER_CHARS = 256  # OpenAI's `user`: an id for the caller's bookkeeping, unused here
# Its finish reasons: both the end token and a stop string are "stop".
FINISH = {"eos": "stop", "stop": "stop", "length": "length"}


def completion_args(body: dict) -> tuple[GenerationRequest, bool]:
    """The request, and whether the stream ends with a usage chunk (stream_options)."""
    body = dict(body)
    options = body.pop("stream_options", None)
    include_usage = _stream_options(options)
    user = body.pop("user", "")
    if not isinstance(user, str) or len(user) > MAX_USER_CHARS:
        raise invalid(f"user must be a string of at most {MAX_USER_CHARS} characters", "user")
    for name in NEUTRAL.keys() & body.keys():
        given = body.pop(name)
        if not any(_same_json(given, value) for value in NEUTRAL[name]):
            raise invalid(f"{name} is not supported here; leave it out", name)
    if isinstance(body.get("prompt"), list):
        prompts = body["prompt"]
        if len(prompts) != 1 or not isinstance(prompts[0], str):
            raise invalid("prompt must be a string (or a list of exactly one string)", "prompt")
        body["prompt"] = prompts[0]
    parsed = parse(body, bounds=request_bounds(), spelling=SPELLING, query=False)
    if options is not None and not parsed.stream:
        raise invalid("stream_options is only allowed with stream: true", "stream_options")
    return parsed, include_usage


def _stream_options(options) -> bool:
    if options is None:
        return False
    if not isinstance(options, dict) or set(options) - {"include_usage"}:
        raise invalid('stream_options must be {"include_usage": true|false}', "stream_options")
    include_usage = options.get("include_usage", False)
    if not isinstance(include_usage, bool):
        raise invalid("stream_options.include_usage must be true or false", "stream_options")
    return include_usage


def _same_json(a, b) -> bool:
    """Equal and of one JSON type: false is not 0, nor 1.0 the integer 1."""
    return type(a) is type(b) and a == b


@bp.post("/completions")
def completions():
    parsed, include_usage = completion_args(json_object())
    model, run = start(parsed)
    head = {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model.name,
    }
    if parsed.stream:
        return sse.response(_chunks(run, head, include_usage), run)
    samples = run.complete()
    choices = [
        {"index": i, "text": s.text, "logprobs": None, "finish_reason": FINISH[s.finish_reason]}
        for i, s in enumerate(samples)
    ]
    return jsonify({**head, "choices": choices, "usage": _usage(run)})


def _usage(run: Generation) -> dict:
    usage = run.usage()
    return {**usage, "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]}


def _chunks(run: Generation, head: dict, include_usage: bool):
    def chunk(index: int, text: str, finish_reason=None) -> str:
        choice = {"index": index, "text": text, "logprobs": None, "finish_reason": finish_reason}
        return sse.event({**head, "choices": [choice]})

    try:
        for index, text in run.chunks():
            yield chunk(index, text)
    except Exception as error:
        log.exception("completion failed while streaming")
        yield sse.error_event(error)
        return
    for index, sample in enumerate(run.samples):
        yield chunk(index, "", FINISH[sample.finish_reason])
    if include_usage:
        yield sse.event({**head, "choices": [], "usage": _usage(run)})
    yield sse.event("[DONE]")


@bp.get("/models")
def models():
    registry = current().registry
    data = [
        {
            "id": name,
            "object": "model",
            "created": int(folder.stat().st_mtime),
            "owned_by": "ghostwriter",
            **model_bounds(name),
        }
        for name, folder in registry.folders.items()
    ]
    return jsonify({"object": "list", "data": data})
