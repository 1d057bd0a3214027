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
from api.generation import Run, begin
from api.routes.generate import json_object
from api.sampling import SamplingParams, parse_values
from api.service import current

log = logging.getLogger(__name__)
bp = Blueprint("openai", __name__, url_prefix="/v1")

NAMES = {
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
}
# OpenAI options accepted only at the value that changes nothing.
NEUTRAL = {
    "echo": (False,),
    "logprobs": (None,),
    "best_of": (None, 1),
    "presence_penalty": (None, 0),
    "frequency_penalty": (None, 0),
    "logit_bias": (None, {}),
    "suffix": (None,),
    "user": None,  # any string: only for the caller's bookkeeping
    "stream_options": None,  # {"include_usage": bool}
}
# OpenAI's defaults where they differ from /generate's.
DEFAULTS = {"length": 16, "temperature": 1.0}
# Its finish reasons: both the end token and a stop string are "stop".
FINISH = {"eos": "stop", "stop": "stop", "length": "length"}


def completion_args(body: dict):
    body = dict(body)
    include_usage = _pop_neutral(body)
    if isinstance(body.get("prompt"), list):
        prompts = body["prompt"]
        if len(prompts) != 1 or not isinstance(prompts[0], str):
            raise invalid("prompt must be a string (or a list of exactly one string)", "prompt")
        body["prompt"] = prompts[0]
    values = {**DEFAULTS, **parse_values(body, from_query=False, names=NAMES)}
    prefix = values.pop("prefix", "")
    max_chars = current().settings.max_prefix_chars
    if len(prefix) > max_chars:
        raise invalid(f"prompt is {len(prefix)} characters; the limit is {max_chars}", "prompt")
    model, stream = values.pop("model", None), values.pop("stream", False)
    params = SamplingParams(**{k: v for k, v in values.items() if v is not None or k == "seed"})
    return prefix, model, stream, include_usage, params


def _pop_neutral(body: dict) -> bool:
    include_usage = False
    for name, neutral in NEUTRAL.items():
        if name not in body:
            continue
        value = body.pop(name)
        if name == "stream_options":
            include_usage = bool((value or {}).get("include_usage", False))
        elif name == "user":
            if not isinstance(value, str):
                raise invalid("user must be a string", name)
        elif value not in neutral or isinstance(value, bool) != isinstance(neutral[0], bool):
            raise invalid(f"{name} is not supported here; leave it out", name)
    return include_usage


@bp.post("/completions")
def completions():
    service = current()
    prefix, name, stream, include_usage, params = completion_args(json_object())
    model = service.registry.get(name)
    names = {"length": "max_tokens", "prefix": "prompt"}
    run = begin(
        model,
        prefix,
        params,
        stream=stream,
        limits=service.limits,
        metrics=service.metrics,
        names=names,
    )
    run.wait_started()
    head = {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model.name,
    }
    if stream:
        return sse.response(_chunks(run, head, include_usage), on_close=run.close)
    samples = run.complete()
    choices = [
        {"index": i, "text": s.text, "logprobs": None, "finish_reason": FINISH[s.finish_reason]}
        for i, s in enumerate(samples)
    ]
    return jsonify({**head, "choices": choices, "usage": _usage(run)})


def _usage(run: Run) -> dict:
    usage = run.usage()
    return {**usage, "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]}


def _chunks(run: Run, head: dict, include_usage: bool):
    def chunk(index: int, text: str, finish_reason=None) -> str:
        choice = {"index": index, "text": text, "logprobs": None, "finish_reason": finish_reason}
        return sse.event({**head, "choices": [choice]})

    try:
        for sample, text in run.chunks():
            yield chunk(sample, text)
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
        }
        for name, folder in registry.folders.items()
    ]
    return jsonify({"object": "list", "data": data})
