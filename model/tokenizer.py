"""Byte-level BPE in GPT-2's files: trained with `tokenizers`, written as encoder.json + vocab.bpe.

GPT-2's formats, as gpt-2-simple's encoder reads them:
- `encoder.json`: {token string: id}, ids 0..n_vocab-1. A token string spells bytes with GPT-2's
  byte→unicode table (space is "Ġ", newline "Ċ"), so no token contains real whitespace.
- `vocab.bpe`: a "#version" header line, then one merge "left right" per line in rank order, and
  a final newline (the reader drops the first and the last line).
- `<|endoftext|>` is the last id (n_vocab-1). The encoder has no special tokens: text containing
  "<|endoftext|>" encodes as ordinary pieces.

Ids are laid out like GPT-2's own: the 256 byte symbols first, then each merge's result in merge
order, then padding (see `pad_tokens`), then `<|endoftext|>`.
"""

import json
from pathlib import Path

EOS_TOKEN = "<|endoftext|>"
BYTE_SYMBOLS = 256


def byte_symbols() -> list[str]:
    """GPT-2's printable stand-in for each byte value 0..255, in byte order."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    # Bytes that are not printable (controls, space, NBSP, soft hyphen) map to 256, 257, … in
    # byte order, so every symbol is a visible, non-whitespace character.
    symbols, spare = {}, 256
    for byte in range(256):
        if byte in printable:
            symbols[byte] = chr(byte)
        else:
            symbols[byte], spare = chr(spare), spare + 1
    return [symbols[b] for b in range(256)]


def train_merges(corpus: Path, *, max_merges: int) -> list[tuple[str, str]]:
    """Learns up to `max_merges` byte-level BPE merges from a UTF-8 text file, in rank order.

    Pre-tokenization is GPT-2's regex without a prefix space, exactly what gpt-2-simple's encoder
    applies, so the merges apply the same way at encode time.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=BYTE_SYMBOLS + max_merges,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tokenizer.train([str(corpus)], trainer)
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    # Older `tokenizers` releases store a merge as "left right", newer ones as [left, right].
    return [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]


def pad_tokens(vocab: dict[str, int], count: int) -> list[str]:
    """`count` filler tokens that no merge produces, so encoding never emits them.

    Why pad at all: n_vocab fixes the embedding's shape (GPT-2 124M's is exactly 50257), but a
    small corpus runs out of pairs to merge before the vocabulary is full. Filler tokens keep the
    shape exact and deterministic; they are unreachable from text, and decode to their own name.
    """
    fillers, number = [], 0
    while len(fillers) < count:
        token = f"<|unused{number}|>"
        if token not in vocab:
            fillers.append(token)
        number += 1
    return fillers


def build_vocab(merges: list[tuple[str, str]], *, n_vocab: int) -> dict[str, int]:
    """encoder.json's mapping: bytes, merge results, padding up to n_vocab-1, then EOS last."""
    assert n_vocab > BYTE_SYMBOLS, n_vocab
    vocab: dict[str, int] = {}
    for token in byte_symbols() + [left + right for left, right in merges]:
        # Two different merges can spell the same string; the token keeps its first id.
        vocab.setdefault(token, len(vocab))
    assert EOS_TOKEN not in vocab and len(vocab) < n_vocab, (len(vocab), n_vocab)
    for token in pad_tokens(vocab, n_vocab - 1 - len(vocab)):
        vocab[token] = len(vocab)
    vocab[EOS_TOKEN] = len(vocab)
    return vocab


def write_tokenizer(folder: Path, vocab: dict[str, int], merges: list[tuple[str, str]]) -> None:
    """Writes encoder.json and vocab.bpe into `folder`."""
    (folder / "encoder.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2", *(f"{left} {right}" for left, right in merges)]
    (folder / "vocab.bpe").write_text("\n".join(lines) + "\n", encoding="utf-8")


def train_tokenizer(corpus: Path, folder: Path, *, n_vocab: int) -> dict:
    """Trains a byte-level BPE of exactly n_vocab ids on `corpus` and writes it into `folder`."""
    merges = train_merges(corpus, max_merges=n_vocab - 1 - BYTE_SYMBOLS)
    vocab = build_vocab(merges, n_vocab=n_vocab)
    write_tokenizer(folder, vocab, merges)
    padded = n_vocab - 1 - BYTE_SYMBOLS - len(set(a + b for a, b in merges))
    return {"n_vocab": n_vocab, "merges": len(merges), "padded": padded}


def load_fast_tokenizer(folder: Path):
    """A `tokenizers.Tokenizer` from encoder.json + vocab.bpe that encodes exactly like
    gpt-2-simple's encoder (byte-level, GPT-2 regex, no prefix space, no special tokens).
    Light: imports no TensorFlow, so the serving path can use it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    bpe = models.BPE.from_file(str(folder / "encoder.json"), str(folder / "vocab.bpe"))
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer
