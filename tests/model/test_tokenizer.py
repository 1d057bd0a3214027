"""The BPE that `model init` writes: gpt-2-simple's encoder reads it, `tokenizers` agrees."""

import json

import pytest

from model import tokenizer
from tests.fixtures import tiny_corpus

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
    assert stats["padded"] == 0, stats
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
    assert sorted(vocab.values()) == list(range(600))
    assert vocab[tokenizer.EOS_TOKEN] == 599
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


def test_small_corpus_is_padded_to_gpt2_124m_vocab(tmp_path):
    corpus = tmp_path / "small.txt"
    corpus.write_text(tiny_corpus.join_documents(tiny_corpus.documents(20, seed=5)))
    stats = tokenizer.train_tokenizer(corpus, tmp_path, n_vocab=50257)
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
    tokenizer.train_tokenizer(corpus, again, n_vocab=50257)
    assert (again / "encoder.json").read_bytes() == (tmp_path / "encoder.json").read_bytes()
    assert (again / "vocab.bpe").read_bytes() == (tmp_path / "vocab.bpe").read_bytes()
