"""What the generation routes read from a request (its parameters, its client) and the bounds
they check it against."""

from flask import current_app, request

from api.errors import ApiError, invalid
from api.json_body import json_body
from api.request_parsing import RequestBounds
from api.service import current
from serving.fit import longest_length

REPEATABLE = {"stop"}  # GET /generate?stop=a&stop=b
_BOUNDS = "ghostwriter.request_bounds"


def query_values(args) -> dict:
    values = {}
    for name in args:
        given = args.getlist(name)
        if len(given) > 1 and name not in REPEATABLE:
            raise invalid(f"{name} is given {len(given)} times; give it once", name)
        values[name] = given if name in REPEATABLE else given[0]
    return values


def json_object() -> dict:
    """The JSON object body of a POST. Only `Content-Type: application/json`: a form or text/plain
    body is what any web page can make its visitors' browsers send here without asking. An empty
    body is refused as any JSON parser would; a query string too, which a POST would ignore."""
    if request.args:
        name = next(iter(request.args))
        raise invalid(f"POST takes its parameters in the JSON body, not the query ({name})", name)
    data = request.get_data()
    if request.mimetype != "application/json":
        raise ApiError(
            f"send the body as Content-Type: application/json, not {request.mimetype or 'none'!r}",
            type="invalid_request",
            status=415,
        )
    if not data:
        raise invalid('the body is empty; send a JSON object of parameters, e.g. {"prefix": "…"}')
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid("the body is not UTF-8; JSON bodies are UTF-8 text") from None
    body = json_body(text)
    if not isinstance(body, dict):
        raise invalid('the body must be a JSON object of parameters, e.g. {"prefix": "…"}')
    return body


def query_only() -> dict:
    """The query parameters of a GET (or HEAD); a body beside them would be ignored."""
    if request.get_data():
        raise invalid("GET takes its parameters in the query string; send a JSON body with POST")
    return query_values(request.args)


def client() -> str:
    """Who asks, for the per-client share of the capacity: the address nginx saw (or, behind a
    trusted proxy, the one it forwarded: nginx's realip module rewrites REMOTE_ADDR)."""
    return request.remote_addr or "unknown"


def model_bounds(name: str) -> dict:
    """One model's bounds as /models, /v1/models and /info report them."""
    service = current()
    described = service.registry.describe(name)
    n_ctx, n_vocab = described["n_ctx"], described["n_vocab"]
    max_length = min(service.settings.max_length, service.settings.kv_tokens - 1)
    if n_ctx:
        max_length = longest_length(max_length=max_length, n_ctx=n_ctx)
    return {"n_ctx": n_ctx, "n_vocab": n_vocab, "max_length": max_length}


def request_bounds() -> RequestBounds:
    """The bounds across every served model, computed once per app from the model folders."""
    if _BOUNDS not in current_app.extensions:
        service = current()
        names = tuple(service.registry.folders)
        per_model = [model_bounds(name) for name in names]
        current_app.extensions[_BOUNDS] = RequestBounds(
            max_length=max(
                (m["max_length"] for m in per_model), default=service.settings.max_length
            ),
            max_prefix_chars=service.settings.max_prefix_chars,
            max_vocab=max((m["n_vocab"] or 0 for m in per_model), default=0) or None,
            models=names,
        )
    return current_app.extensions[_BOUNDS]
