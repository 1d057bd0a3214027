"""The one error type the corpus CLI turns into a one-line message and exit code 2."""


class UsageError(ValueError):
    """Bad input from the user; the message says what to do about it."""
