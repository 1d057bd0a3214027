"""One JSON shape for every error: {"error": {"message", "type", "param"}}; and the one place
where the serving core's errors become HTTP statuses."""

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from api.service import current
from serving import errors as core

log = logging.getLogger(__name__)

STATUS_BY_TYPE = {
    "invalid_request": 400,
    "not_found": 404,
    "overloaded": 503,
    "not_ready": 503,
    "internal": 500,
}


class ApiError(Exception):
    """An error the client should see, with the HTTP status its type implies."""

    def __init__(
        self, message: str, *, type: str, param=None, status=None, retry_after=None
    ) -> None:
        super().__init__(message)
        assert type in STATUS_BY_TYPE, type
        self.message = message
        self.type = type
        self.param = param
        self.status = status or STATUS_BY_TYPE[type]
        self.retry_after = retry_after  # seconds, for 503s

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param}}


def invalid(message: str, param: str | None = None) -> ApiError:
    return ApiError(message, type="invalid_request", param=param)


# Core error → (type, status); Retry-After on the ones a retry may cure. First match wins.
CORE_ERRORS = (
    (core.ClientLimit, "overloaded", 429, True),
    (core.Overloaded, "overloaded", 503, True),
    (core.NotReady, "not_ready", 503, True),
    (core.DeadlineExceeded, "overloaded", 503, True),
    # Nobody reads this answer; 499 is what nginx logs for it too.
    (core.Cancelled, "invalid_request", 499, False),
    (core.InvalidRequest, "invalid_request", 400, False),
)


def from_core(error: core.ServingError, retry_after_s: int | None = None) -> ApiError:
    for kind, type_, status, retry in CORE_ERRORS:
        if isinstance(error, kind):
            retry_after = retry_after_s if retry else None
            return ApiError(
                error.message, type=type_, param=error.param, status=status, retry_after=retry_after
            )
    raise AssertionError(f"no HTTP mapping for {type(error).__name__}")


def _core_error(error: core.ServingError):
    return respond(from_core(error, current().settings.retry_after_s))


def respond(error: ApiError):
    response = jsonify(error.body())
    response.status_code = error.status
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _http_error(error: HTTPException):
    if error.code == 404:
        return respond(ApiError("no such endpoint; see /openapi.json", type="not_found"))
    if error.code == 405:
        allowed = ", ".join(error.valid_methods or [])
        response = respond(
            ApiError(f"method not allowed; use {allowed}", type="invalid_request", status=405)
        )
        response.headers["Allow"] = allowed
        return response
    if error.code and error.code < 500:
        message = error.description or error.name
        return respond(ApiError(message, type="invalid_request", status=error.code))
    return _unexpected(error)


def _unexpected(error: Exception):
    # The traceback goes to the server log only: a 500 never shows internals to the client.
    log.error("unhandled error", exc_info=error)
    return respond(ApiError("internal server error; the server log has details", type="internal"))


def register(app: Flask) -> None:
    app.register_error_handler(ApiError, respond)
    app.register_error_handler(core.ServingError, _core_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
