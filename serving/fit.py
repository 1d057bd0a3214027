"""Whether a request fits a model: top_k within the vocabulary, length within the context and
within one sequence's share of the KV cache. Pure: sizes in, `InvalidRequest` out.

`name` turns a parameter's core name into the one the client sent (`max_tokens` for `length` on
/v1/completions), so the message speaks the client's words.
"""

from collections.abc import Callable

from serving.errors import InvalidRequest
from serving.sampling_params import SamplingParams


def as_given(name: str) -> str:
    """The default `name`: the client used the core's own names."""
    return name


def check_fits(
    params: SamplingParams,
    *,
    prompt_tokens: int,
    n_ctx: int,
    n_vocab: int,
    kv_tokens: int,
    max_length: int,
    name: Callable[[str], str] = as_given,
) -> None:
    if params.top_k > n_vocab:
        raise InvalidRequest(
            f"{name('top_k')} must be at most the vocabulary size {n_vocab}", param=name("top_k")
        )
    room = n_ctx - prompt_tokens
    if room < 1:
        raise InvalidRequest(
            f"the {name('prefix')} is {prompt_tokens} tokens and fills the {n_ctx}-token "
            "context; shorten it",
            param=name("prefix"),
        )
    limit = min(max_length, room)
    if params.length > limit:
        raise InvalidRequest(
            f"{name('length')} must be at most {limit} (limit {max_length}; context {n_ctx} "
            f"minus {prompt_tokens} prompt tokens)",
            param=name("length"),
        )
    tokens = prompt_tokens + params.length
    if tokens > kv_tokens:  # it could never be admitted
        raise InvalidRequest(
            f"the {name('prefix')} and {name('length')} make {tokens} tokens; this server holds "
            f"at most {kv_tokens} per sequence: shorten the {name('prefix')} or the "
            f"{name('length')}",
            param=name("length"),
        )


def longest_length(*, max_length: int, n_ctx: int) -> int:
    """A model's longest sample: the setting, and room for at least a one-token prompt."""
    return min(max_length, n_ctx - 1)
