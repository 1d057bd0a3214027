"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.stack.schema_checks) for the fuzz test: the two
refusals of schema-valid requests that JSON Schema cannot express, and nothing else.

- The prompt plus `length` must fit the model's context: the prompt's token count depends on the
  text, so a valid-looking request can get a 400 naming the prefix or the length.
- JSON Schema counts 21.0 as an integer; the API wants integers written as integers (as OpenAI's
  does), and its schema says so in words: such a value gets a 400 naming the parameter.
"""

import schemathesis

CONTEXT_PARAMS = {"prefix", "prompt", "length", "max_tokens"}


def _sent_as_fraction(case, param: str) -> bool:
    for values in (case.body, case.query):
        if isinstance(values, dict) and param in values:
            value = values[param]
            return isinstance(value, float) or (isinstance(value, str) and "." in value)
    return False


@schemathesis.check
def schema_valid_requests_are_refused_only_for_what_the_schema_cannot_say(ctx, response, case):
    meta = case.meta
    if response.status_code != 400 or meta is None or not meta.generation.mode.is_positive:
        return None
    error = response.json()["error"]
    fills_context = error["param"] in CONTEXT_PARAMS and "context" in error["message"]
    fraction = "must be an integer" in error["message"] and _sent_as_fraction(case, error["param"])
    assert fills_context or fraction, f"a schema-valid request was refused: {error}"
    return None
