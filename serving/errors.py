"""The serving core's errors. Each says what to do; the HTTP layer maps them to statuses in one
place (api/errors.py), the CLI to one line and exit code 2."""


class ServingError(Exception):
    """A request the core will not or cannot serve. `param` names the parameter at fault."""

    def __init__(self, message: str, *, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param


class InvalidRequest(ServingError):
    """The request does not fit the model or the server: unknown model, prompt or length too
    long, top_k past the vocabulary."""


class Overloaded(ServingError):
    """No room now: the server's places are taken, or the queue wait ran out."""


class ClientLimit(Overloaded):
    """This client already has its share of the sequences in flight; others are still served."""


class NotReady(ServingError):
    """The models are not loaded yet (or failed to load)."""


class DeadlineExceeded(ServingError):
    """The request ran past its time limit and was stopped."""


class Cancelled(ServingError):
    """The client went away; nobody reads the answer."""
