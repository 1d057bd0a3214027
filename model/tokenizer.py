"""Byte-level BPE in GPT-2's files: trained with `tokenizers`, written as encoder.json + vocab.bpe.

GPT-2's formats, as gpt-2-simple's encoder reads them:
- `encoder.json`: {token string: id}, ids 0..n_vocab-1. A token string spells bytes with GPT-2's
  byte→unicode table (space is "Ġ", newline "Ċ"), so no token contains real whitespace.
- `vocab.bpe`: a "#version" header line, then one merge "left right" per line in rank order, and
  a final newline (the reader drops the first and the last line).
- `<|endoftext|>` is the last id (n_vocab-1), a special token: only the document separator of
  training text becomes that id (see `encode_documents`); the same characters inside a document
  encode as ordinary pieces, so a model learns to end a text, not to spell the separator.

Ids are laid out like GPT-2's own: the 256 byte symbols first, then each merge's result in merge
order, then padding if an exact size was asked for (see `pad_tokens`), then `<|endoftext|>`.
"""

import json
from collections.abc import Callable, Iterator
from pathlib import Path

from contracts import ENCODER, EOS_TOKEN, VOCAB_BPE
from serving.tokenizer import load_fast_tokenizer as load_fast_tokenizer  # noqa: F401 (re-exported)

# load_fast_tokenizer(folder): the `tokenizers.Tokenizer` of encoder.json + vocab.bpe, encoding
# exactly like gpt-2-simple's encoder (no special tokens: only `encode_documents` turns
# separators into the end id). It is serving's own construction, so training and serving cannot
# drift apart and export's parity check covers both; it needs no TensorFlow and no Flask.

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


def documents(corpus: Path) -> Iterator[str]:
    """The corpus's documents without their separators: the BPE learns from text alone, so no
    vocabulary entry is spent on spelling `<|endoftext|>` (training text never encodes it as
    pieces; see `encode_documents`)."""
    with corpus.open(encoding="utf-8") as text:
        pending = ""
        while block := text.read(1 << 20):
            *whole, pending = (pending + block).split(EOS_TOKEN)
            yield from whole
        yield pending


def encode_documents(text: str, encode: Callable[[str], list[int]], *, eos_id: int) -> list[int]:
    """Token ids of a training text: each document's ordinary encoding, and exactly one `eos_id`
    for each `<|endoftext|>` separator between or after them.

    The newline on each side of a separator belongs to the separator's line (`corpus prepare`
    writes "\n<|endoftext|>\n"), not to the documents: it is dropped, so a model learns to end a
    text with the end id and to begin one after it with text, not with a newline."""
    documents = text.split(EOS_TOKEN)
    ids: list[int] = []
    for number, document in enumerate(documents):
        if number:
            ids.append(eos_id)
            document = document.removeprefix("\n")
        if number < len(documents) - 1:
            document = document.removesuffix("\n")
        ids.extend(encode(document))
    return ids


def train_merges(corpus: Path, *, max_merges: int) -> list[tuple[str, str]]:
    """Learns up to `max_merges` byte-level BPE merges from a UTF-8 text file, in rank order.

    Pre-tokenization is GPT-2's regex without a prefix space, exactly what gpt-2-simple's encoder
    applies, so the merges apply the same way at encode time. Separators are left out of what it
    learns from (see `documents`).
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
    tokenizer.train_from_iterator(documents(corpus), trainer)
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    # Older `tokenizers` releases store a merge as "left right", newer ones as [left, right].
    return [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]


def pad_tokens(vocab: dict[str, int], count: int) -> list[str]:
    """`count` filler tokens that no merge produces, so encoding never emits them.

    Padding happens only when an exact size is asked for (`model init --shape 124M`: GPT-2's
    embedding is exactly 50257 wide) and the corpus runs out of pairs to merge first. Fillers are
    unreachable from text, but a model can still sample them: serving bans their ids.
    """
    fillers, number = [], 0
    while len(fillers) < count:
        token = f"<|unused{number}|>"
        if token not in vocab:
            fillers.append(token)
        number += 1
    return fillers


def build_vocab(merges: list[tuple[str, str]], *, pad_to: int | None = None) -> dict[str, int]:
    """encoder.json's mapping: bytes, merge results, fillers up to pad_to-1 ids if given, then EOS
    last. Without pad_to the vocabulary is exactly what was learned, plus EOS."""
    vocab: dict[str, int] = {}
    for token in byte_symbols() + [left + right for left, right in merges]:
        # Two different merges can spell the same string; the token keeps its first id.
        vocab.setdefault(token, len(vocab))
    assert EOS_TOKEN not in vocab, "the separator is never learned as text"
    if pad_to is not None:
        assert len(vocab) < pad_to, (len(vocab), pad_to)
        for token in pad_tokens(vocab, pad_to - 1 - len(vocab)):
            vocab[token] = len(vocab)
    vocab[EOS_TOKEN] = len(vocab)
    return vocab


def write_tokenizer(folder: Path, vocab: dict[str, int], merges: list[tuple[str, str]]) -> None:
    """Writes encoder.json and vocab.bpe into `folder`."""
    (folder / ENCODER).write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2", *(f"{left} {right}" for left, right in merges)]
    (folder / VOCAB_BPE).write_text("\n".join(lines) + "\n", encoding="utf-8")


def train_tokenizer(corpus: Path, folder: Path, *, n_vocab: int, exact: bool = False) -> dict:
    """Trains a byte-level BPE of at most n_vocab ids (exactly n_vocab when `exact`, padded with
    fillers if the corpus runs out of merges) on `corpus` and writes it into `folder`.
    Returns {"n_vocab": ids written, "merges", "padded": filler count}."""
    merges = train_merges(corpus, max_merges=n_vocab - 1 - BYTE_SYMBOLS)
    vocab = build_vocab(merges, pad_to=n_vocab if exact else None)
    write_tokenizer(folder, vocab, merges)
    learned = len(set(byte_symbols()) | {left + right for left, right in merges})
    padded = len(vocab) - 1 - learned
    return {"n_vocab": len(vocab), "merges": len(merges), "padded": padded}
