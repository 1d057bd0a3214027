"""Text files as gpt-2-simple token ids, and the context-sized windows a model reads them in."""

import hashlib
from pathlib import Path

import numpy as np

from cli import UsageError
from model import tokenizer


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
    """The file's token ids [tokens] in the model's vocabulary: every `<|endoftext|>` separator
    is the one end id (GPT-2's 50256; the last id of `model init`'s), the documents between them
    are encoded exactly as gpt-2-simple's encoder would (tokenizers' BPE is the same, faster)."""
    text = read_text(path, what=what)
    fast = tokenizer.load_fast_tokenizer(model_dir)
    eos_id = fast.token_to_id(tokenizer.EOS_TOKEN)
    if eos_id is None:
        raise UsageError(f"{model_dir}/encoder.json has no {tokenizer.EOS_TOKEN}; re-make the base")
    ids = tokenizer.encode_documents(text, lambda doc: fast.encode(doc).ids, eos_id=eos_id)
    return np.asarray(ids, dtype=np.int32)


def save_npz(path: Path, tokens: np.ndarray) -> None:
    """A pre-encoded dataset for gpt2.finetune: its load_dataset takes an .npz's arrays as token
    ids as they are, so the end id stays one id instead of being re-encoded from text."""
    np.savez(path, tokens.astype(np.int32))


def check_longer_than_context(tokens: np.ndarray, *, n_ctx: int, path: Path, what: str) -> None:
    """gpt-2-simple samples windows of n_ctx tokens and fails on a shorter file with an assert."""
    if len(tokens) <= n_ctx:
        raise UsageError(
            f"{what} {path} has {len(tokens)} tokens, not more than the model's context of "
            f"{n_ctx}; give it more text (or use a base model with a smaller n_ctx)"
        )


def encode_checked(model_dir: Path, path: Path, *, n_ctx: int, what: str) -> np.ndarray:
    """encode_file, refusing a file no longer than one context (see check_longer_than_context)."""
    tokens = encode_file(model_dir, path, what=what)
    check_longer_than_context(tokens, n_ctx=n_ctx, path=path, what=what)
    return tokens


def describe_file(path: Path, tokens: np.ndarray) -> dict:
    """run.json's record of a training or validation file."""
    return {
        "path": str(path.resolve()),
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
        "tokens": int(len(tokens)),
    }


def windows(tokens, *, n_ctx: int) -> list[list[int]]:
    """Splits a token sequence into windows of at most n_ctx tokens that overlap by one, so every
    token but the very first is predicted exactly once (the overlap is its context)."""
    tokens = [int(t) for t in tokens]
    stride = n_ctx - 1
    return [tokens[start : start + n_ctx] for start in range(0, max(len(tokens) - 1, 0), stride)]
