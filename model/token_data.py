"""Text files as gpt-2-simple token ids, and the context-sized windows a model reads them in."""

import hashlib
from pathlib import Path

import numpy as np

from model.errors import UsageError


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_text(path: Path, *, what: str) -> str:
    """A UTF-8 text file's content; a missing, empty or non-UTF-8 file is the user's to fix."""
    if not path.is_file():
        raise UsageError(
            f"{what} {path} not found; pass a prepared file "
            "(`python -m corpus prepare IN_DIR OUT_DIR` writes train.txt and val.txt)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"{what} {path} is not UTF-8 text ({error}); convert it first") from None
    if not text.strip():
        raise UsageError(f"{what} {path} is empty; pass a file with text in it")
    return text


def encode_file(model_dir: Path, path: Path, *, what: str) -> np.ndarray:
    """The file's token ids [tokens] with gpt-2-simple's own encoder, exactly as finetune reads it
    (`<|endoftext|>` in the text is encoded as its ordinary BPE pieces)."""
    from gpt_2_simple.src.encoder import get_encoder

    text = read_text(path, what=what)
    return np.asarray(get_encoder(str(model_dir)).encode(text), dtype=np.int32)


def check_longer_than_context(tokens: np.ndarray, *, n_ctx: int, path: Path, what: str) -> None:
    """gpt-2-simple samples windows of n_ctx tokens and fails on a shorter file with an assert."""
    if len(tokens) <= n_ctx:
        raise UsageError(
            f"{what} {path} has {len(tokens)} tokens, not more than the model's context of "
            f"{n_ctx}; give it more text (or use a base model with a smaller n_ctx)"
        )


def windows(tokens, *, n_ctx: int) -> list[list[int]]:
    """Splits a token sequence into windows of at most n_ctx tokens that overlap by one, so every
    token but the very first is predicted exactly once (the overlap is its context)."""
    tokens = [int(t) for t in tokens]
    stride = n_ctx - 1
    return [tokens[start : start + n_ctx] for start in range(0, max(len(tokens) - 1, 0), stride)]
