"""serving/tokenizer.py on the tiny model's BPE: round trips, the end token, banned ids."""

import json
import shutil

import pytest

from serving.tokenizer import EOS_TOKEN, Tokenizer

TEXTS = [
    "Ash and Pikachu were",
    "a <| literal, and |> too: <|endoftext|> written out",
    "😀 שלום\n\n  spaces  and\ttabs",
    "<|unused3|> is text when a client writes it",
]


@pytest.fixture(scope="module")
def tokenizer(tiny_base):
    return Tokenizer(tiny_base.path)


@pytest.mark.parametrize("text", TEXTS)
def test_text_round_trips_and_never_holds_the_end_token(tokenizer, text):
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    assert tokenizer.eos_id not in ids


def test_the_end_token_is_the_last_id_and_decodes_to_its_text(tokenizer):
    assert tokenizer.tokens[tokenizer.eos_id] == EOS_TOKEN == tokenizer.tokens[-1]
    assert tokenizer.decode([tokenizer.eos_id]) == EOS_TOKEN


def test_no_banned_ids_without_fillers(tokenizer):
    assert tokenizer.banned_ids == []


def test_filler_tokens_are_banned_but_not_the_end_token(tiny_base, tmp_path):
    """`model init` pads a vocabulary that got fewer merges than its size with <|unusedN|>."""
    shutil.copy(tiny_base.path / "vocab.bpe", tmp_path / "vocab.bpe")
    vocab = json.loads((tiny_base.path / "encoder.json").read_text(encoding="utf-8"))
    tokens = sorted(vocab, key=vocab.get)[:-1] + ["<|unused0|>", "<|unused1|>", EOS_TOKEN]
    encoder = {token: token_id for token_id, token in enumerate(tokens)}
    (tmp_path / "encoder.json").write_text(json.dumps(encoder), encoding="utf-8")
    padded = Tokenizer(tmp_path)
    assert padded.banned_ids == [len(tokens) - 3, len(tokens) - 2]
    assert padded.eos_id == len(tokens) - 1
    ids = padded.encode("<|unused0|>")
    assert not set(ids) & {*padded.banned_ids, padded.eos_id}
