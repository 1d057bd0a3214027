"""The BPE that `model init` writes: gpt-2-simple's encoder reads it, `tokenizers` agrees, and
`<|endoftext|>` is one special id that only a document separator becomes."""

import json

import numpy as np
import pytest

from model import token_data, tokenizer
from tests.fixtures import tiny_corpus

SEPARATOR_PIECES = ("<|", "|>", "endoftext")
LITERAL_SEPARATOR_TEXTS = [
    "a <| b |> c",
    "<|endoftext|>",
    "the word endoftext and <|endoftext|> written out, <|unused3|> too",
    "<||>|<<|endoftext",
]

TEXTS = [
    "Mara walked to the harbour with Jun.",
    "Emoji 🙂🚀 and a family 👩‍👩‍👧 in one line",
    "Accents: café, naïve, Zoë, São Paulo, Ångström, Đorđe",
    "line one\nline two\n\n\nafter blank lines\r\nwindows ending",
    "  leading spaces, trailing spaces   \t tabs\tand\u00a0nbsp",
    "日本語のテキストと中文",
    "they'll say it's the 1987 \"model\", won't they?",
    "<|endoftext|> inside text stays ordinary text",
    "\x00\x07 control bytes \x7f",
    "",
]


@pytest.fixture(scope="module")
def bpe_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bpe")
    corpus = folder / "corpus.txt"
    corpus.write_text(tiny_corpus.join_documents(tiny_corpus.documents(200, seed=3)))
    stats = tokenizer.train_tokenizer(corpus, folder, n_vocab=600)
    assert stats["padded"] == 0 and stats["n_vocab"] > 500, stats
    return folder


@pytest.fixture(scope="module")
def gpt2_encoder(bpe_dir):
    from gpt_2_simple.src.encoder import get_encoder

    return get_encoder(str(bpe_dir))


@pytest.mark.parametrize("text", TEXTS)
def test_gpt2_simple_encoder_round_trips(gpt2_encoder, text):
    ids = gpt2_encoder.encode(text)
    assert gpt2_encoder.decode(ids) == text


@pytest.mark.parametrize("text", TEXTS)
def test_tokenizers_library_encodes_like_gpt2_simple(bpe_dir, gpt2_encoder, text):
    fast = tokenizer.load_fast_tokenizer(bpe_dir)
    encoding = fast.encode(text)
    assert encoding.ids == gpt2_encoder.encode(text)
    assert fast.decode(encoding.ids) == text


def test_merges_compress_the_training_text(bpe_dir, gpt2_encoder):
    text = tiny_corpus.join_documents(tiny_corpus.documents(5, seed=99))
    assert len(gpt2_encoder.encode(text)) < len(text.encode()) / 2


def test_files_follow_gpt2_formats(bpe_dir):
    vocab = json.loads((bpe_dir / "encoder.json").read_text(encoding="utf-8"))
    assert sorted(vocab.values()) == list(range(len(vocab)))
    assert vocab[tokenizer.EOS_TOKEN] == len(vocab) - 1
    assert [vocab[s] for s in tokenizer.byte_symbols()] == list(range(256))
    lines = (bpe_dir / "vocab.bpe").read_text(encoding="utf-8").split("\n")
    assert lines[0].startswith("#version") and lines[-1] == ""
    for line in lines[1:-1]:
        left, right = line.split(" ")
        assert left in vocab and right in vocab and left + right in vocab


def test_byte_symbols_are_gpt2s():
    from gpt_2_simple.src.encoder import bytes_to_unicode

    table = bytes_to_unicode()
    assert tokenizer.byte_symbols() == [table[b] for b in range(256)]


def test_no_merge_spells_the_separator(bpe_dir):
    """The corpus has a separator after each of its 200 documents; none of it is learned."""
    vocab = json.loads((bpe_dir / "encoder.json").read_text(encoding="utf-8"))
    fast = tokenizer.load_fast_tokenizer(bpe_dir)
    texts = [fast.decode([i]) for t, i in vocab.items() if t != tokenizer.EOS_TOKEN]
    assert not [t for t in texts if any(piece in t for piece in SEPARATOR_PIECES)]


@pytest.mark.parametrize("text", LITERAL_SEPARATOR_TEXTS)
def test_literal_separator_text_round_trips_without_the_end_id(bpe_dir, gpt2_encoder, text):
    eos_id = gpt2_encoder.encoder[tokenizer.EOS_TOKEN]
    fast = tokenizer.load_fast_tokenizer(bpe_dir)
    ids = fast.encode(text).ids
    assert ids == gpt2_encoder.encode(text) and eos_id not in ids
    assert fast.decode(ids) == text


def test_only_separators_become_the_end_id(bpe_dir, tmp_path):
    docs = ["first <| document |>", "second endoftext", "", "fourth\n"]
    dataset = tmp_path / "train.txt"
    dataset.write_text(tiny_corpus.join_documents(docs), encoding="utf-8")
    tokens = token_data.encode_file(bpe_dir, dataset, what="dataset")
    fast = tokenizer.load_fast_tokenizer(bpe_dir)
    eos_id = fast.token_to_id(tokenizer.EOS_TOKEN)
    assert int((tokens == eos_id).sum()) == len(docs)
    pieces = np.split(tokens, np.flatnonzero(tokens == eos_id))
    decoded = [fast.decode(pieces[0].tolist())] + [fast.decode(p[1:].tolist()) for p in pieces[1:]]
    # The separator line's own newlines are not part of the documents.
    assert decoded == [*docs, ""]


def test_the_npz_dataset_keeps_one_end_id_per_separator(bpe_dir, tmp_path):
    """gpt2.finetune's own loader reads the .npz that finetune writes, ids as they are."""
    from gpt_2_simple.src.encoder import get_encoder
    from gpt_2_simple.src.load_dataset import load_dataset

    docs = tiny_corpus.documents(30, seed=11)
    dataset = tmp_path / "train.txt"
    dataset.write_text(tiny_corpus.join_documents(docs), encoding="utf-8")
    tokens = token_data.encode_file(bpe_dir, dataset, what="dataset")
    token_data.save_npz(tmp_path / "train.npz", tokens)
    encoder = get_encoder(str(bpe_dir))
    (loaded,) = load_dataset(encoder, str(tmp_path / "train.npz"), combine=50000)
    assert loaded.tolist() == tokens.tolist()
    assert loaded.tolist().count(encoder.encoder[tokenizer.EOS_TOKEN]) == len(docs)


def test_the_vocabulary_is_what_was_learned(tmp_path):
    corpus = tmp_path / "small.txt"
    corpus.write_text(tiny_corpus.join_documents(tiny_corpus.documents(20, seed=5)))
    stats = tokenizer.train_tokenizer(corpus, tmp_path, n_vocab=50257)
    vocab = json.loads((tmp_path / "encoder.json").read_text(encoding="utf-8"))
    assert stats["padded"] == 0 and len(vocab) == stats["n_vocab"] < 5000
    assert not [t for t in vocab if t.startswith("<|unused")]
    assert vocab[tokenizer.EOS_TOKEN] == len(vocab) - 1


def test_small_corpus_is_padded_to_gpt2_124m_vocab_when_asked(tmp_path):
    corpus = tmp_path / "small.txt"
    corpus.write_text(tiny_corpus.join_documents(tiny_corpus.documents(20, seed=5)))
    stats = tokenizer.train_tokenizer(corpus, tmp_path, n_vocab=50257, exact=True)
    vocab = json.loads((tmp_path / "encoder.json").read_text(encoding="utf-8"))
    assert len(vocab) == 50257 and vocab[tokenizer.EOS_TOKEN] == 50256
    assert stats["padded"] > 40000
    fillers = [t for t, i in vocab.items() if t.startswith("<|unused")]
    assert len(fillers) == stats["padded"]
    # Fillers are unreachable: their own text encodes as ordinary pieces.
    fast = tokenizer.load_fast_tokenizer(tmp_path)
    filler_ids = {vocab[t] for t in fillers}
    assert not filler_ids & set(fast.encode(" ".join(fillers[:50])).ids)
    again = tmp_path / "again"
    again.mkdir()
    tokenizer.train_tokenizer(corpus, again, n_vocab=50257, exact=True)
    assert (again / "encoder.json").read_bytes() == (tmp_path / "encoder.json").read_bytes()
    assert (again / "vocab.bpe").read_bytes() == (tmp_path / "vocab.bpe").read_bytes()
