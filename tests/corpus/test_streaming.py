"""Bounded-memory pieces: reading, chunking, cleaning across chunk seams, held documents."""

import random
from collections import Counter

import pytest

from cli import UsageError
from corpus import reader
from corpus.augment import shuffle_stanzas
from corpus.cleaning import Cleaner, RuleChanges
from corpus.document import DocumentBuilder, split_ending
from corpus.profiles import select_rules
from corpus.reader import BinaryDocument, Decoding, read_text, safe_chunks, safe_cut
from corpus.split import assign_split

MESSY = (
    "  7 ContributorsMy Song Lyrics\n[Intro]\nYeah,  it’s   cafÃ© time\t \n\n\n\n"
    "[Verse 1]\nOne\xa0line here\nYou might also like\ntwo lines  there \n\n"
    "[Chorus]\nsing it\nsing it\n\n\n\nlast line[1]42Embed  \n"
)


def clean(text, rules, *, size):
    return "".join(Cleaner(rules).clean(safe_chunks([text], size=size), Counter()))


@pytest.mark.parametrize("profile", ["plain", "lyrics", "episodes"])
@pytest.mark.parametrize("size", [40, 57, 64, 100, 1000])
def test_cleaning_in_chunks_equals_cleaning_whole(profile, size):
    rules = select_rules(profile)
    text = MESSY * 5
    whole = "".join(Cleaner(rules).clean([text], Counter()))
    assert clean(text, rules, size=size) == whole
    assert whole == whole.strip()


def test_lyrics_profile_result():
    cleaned = clean(MESSY, select_rules("lyrics"), size=1000)
    assert cleaned == (
        "Yeah, it's café time\n\nOne line here\ntwo lines there\n\nsing it\nsing it\n\nlast line[1]"
    )


def test_episodes_profile_keeps_paragraphs():
    page = (
        "This article does not yet meet the quality standards of Bulbapedia.\n"
        "Plot[edit]\n\n"
        "Ash and  Pikachu arrive in town.[1] They meet Misty.\n\n\n\n"
        "Spoiler warning: this article may contain major plot details.\n"
        "Later,\u00a0Team Rocket appears[citation needed]. It’s a trap!\n"
    )
    assert clean(page, select_rules("episodes"), size=1000) == (
        "Plot\n\nAsh and Pikachu arrive in town. They meet Misty.\n\n"
        "Later, Team Rocket appears. It's a trap!"
    )


def test_rule_changes_count_documents_and_characters():
    changes = RuleChanges()
    rules = select_rules("lyrics")
    for text in ("[Chorus]\nla", "[Intro]\nla la", "no header"):
        delta = Counter()
        "".join(Cleaner(rules).clean([text], delta))
        changes.add(delta)
    counts = changes.as_dict(["section_headers", "quotes"])
    assert counts["section_headers"] == {"documents_changed": 2, "chars_delta": -17}
    assert counts["quotes"] == {"documents_changed": 0, "chars_delta": 0}


@pytest.mark.parametrize(
    ("text", "target", "cut"),
    [
        ("aaaa\nbbbb cccc", 8, 5),  # after the line break
        ("aaaa bbbb cccc", 12, 10),  # no line break: after the last space
        ("aaaaaaaaaaaaaa", 12, 12),  # no space at all: at the target
        ("aa\nbbbbbbbbbbbbb", 12, 12),  # the break is before half the target
    ],
)
def test_safe_cut(text, target, cut):
    assert safe_cut(text, target) == cut


def test_safe_chunks_keep_the_text_and_a_long_last_chunk():
    text = "\n".join(f"line {i} " * 3 for i in range(200))
    chunks = list(safe_chunks(iter(text[i : i + 7] for i in range(0, len(text), 7)), size=100))
    assert "".join(chunks) == text
    assert all(len(chunk) <= 200 for chunk in chunks)
    assert len(chunks[-1]) >= 100


@pytest.mark.parametrize("read_bytes", [3, None])
def test_read_text_translates_line_endings_and_counts_invalid_utf8(
    tmp_path, monkeypatch, read_bytes
):
    # 3 bytes a read: every boundary case (CR|LF, split sequences); else the one-read path.
    if read_bytes:
        monkeypatch.setattr(reader, "READ_BYTES", read_bytes)
        monkeypatch.setattr(reader, "FIRST_READ_BYTES", read_bytes)
    path = tmp_path / "doc.txt"
    data = b"one\r\ntwo\rthree\n\xff\xfeok \xef\xbf\xbd caf\xc3\xa9\r\n"
    path.write_bytes(data)
    decoding = Decoding()
    text = "".join(read_text(path, decoding))
    assert text == "one\ntwo\nthree\n\ufffd\ufffdok \ufffd café\n"
    assert (decoding.invalid, decoding.genuine, decoding.bytes_read) == (2, 1, len(data))


def test_unreadable_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read .*gone.txt"):
        "".join(read_text(tmp_path / "gone.txt", Decoding()))


@pytest.mark.parametrize("size", [10, 3 * 2**20])
def test_read_text_refuses_binary(tmp_path, size):
    path = tmp_path / "doc.txt"
    path.write_bytes(b"x" * (size - 3) + b"\x00\x01\x02")
    with pytest.raises(BinaryDocument):
        "".join(read_text(path, Decoding()))


@pytest.mark.parametrize("spill_chars", [10**9, 50])
def test_document_held_in_memory_or_spilled(tmp_path, spill_chars):
    words = [f"w{i}" for i in range(300)]
    text = " ".join(words)
    builder = DocumentBuilder(spill_dir=tmp_path, spill_chars=spill_chars)
    for start in range(0, len(text), 17):  # pieces that cut words in two
        builder.append(text[start : start + 17])
    document = builder.finish()
    assert (document.text is None) == (spill_chars == 50)
    assert "".join(document.pieces()) == text
    assert (document.words, document.chars) == (300, len(text))
    prompt_chars, reference = document.heldout_ending()
    assert "".join(document.pieces(limit=prompt_chars)) + reference == text
    assert reference.split() == words[-20:]
    document.discard()
    assert list(tmp_path.iterdir()) == []


ODD_WHITESPACE = "a\u00a0b  c\t\td \n e\r\n\n\n\nf\u2028g\u2029h\x0bi\x1cj \u3000 k\ufeffl ¨m"


@pytest.mark.parametrize("profile", ["plain", "lyrics", "episodes"])
@pytest.mark.parametrize("size", [8, 13, 40, 1000])
def test_tidy_word_count_equals_splitting(tmp_path, profile, size):
    cleaner = Cleaner(select_rules(profile))
    assert cleaner.tidy_whitespace
    text = (MESSY + ODD_WHITESPACE) * 4
    builder = DocumentBuilder(spill_dir=tmp_path, tidy=True)
    for piece in cleaner.clean(safe_chunks([text], size=size), Counter()):
        builder.append(piece)
    cleaned = builder.finish()
    assert cleaned.words == len(cleaned.text.split())
    assert DocumentBuilder(spill_dir=None, tidy=True).words == 0


def test_without_the_whitespace_rules_words_are_split(tmp_path):
    cleaner = Cleaner(select_rules("plain", without_rules=["whitespace"]))
    assert not cleaner.tidy_whitespace


def test_duplicate_key_ignores_case_only():
    keys = []
    for text in ("Hello World", "hello world", "Hello, World"):
        builder = DocumentBuilder(spill_dir=None)
        builder.append(text)
        keys.append(builder.finish().key)
    assert keys[0] == keys[1] != keys[2]


@pytest.mark.parametrize(
    "text",
    [
        " ".join(f"w{i}" for i in range(21)),
        "line one\nline two " + " ".join(f"w{i}" for i in range(30)) + "\n\nend, end.",
        "a\n\n" + "\n".join(f"verse {i}" for i in range(15)),
    ],
)
def test_split_ending_reconstructs_the_document(text):
    prompt, reference = split_ending(text)
    assert prompt + reference == text
    assert reference.split() == text.split()[-20:]
    assert prompt.split() == text.split()[:-20]
    assert prompt == prompt.rstrip() and reference[0].isspace()


def test_split_ending_needs_a_word_for_the_prompt():
    assert split_ending(" ".join(["w"] * 20)) is None


def test_assign_split_is_deterministic_and_proportional():
    ids = [f"doc-{i}" for i in range(4000)]
    splits = [assign_split(i, seed=1, val=0.1, test=0.05) for i in ids]
    assert splits == [assign_split(i, seed=1, val=0.1, test=0.05) for i in ids]
    assert 300 < splits.count("val") < 500 and 120 < splits.count("test") < 280
    other = [assign_split(i, seed=2, val=0.1, test=0.05) for i in ids]
    assert other != splits


def test_shuffle_stanzas_keeps_every_stanza():
    stanzas = [f"stanza {i}\nline {i}" for i in range(12)]
    text = "\n\n".join(stanzas)
    pieces = [text[i : i + 10] for i in range(0, len(text), 10)]
    copy = "".join(shuffle_stanzas(pieces, rng=random.Random(0)))
    assert sorted(copy.split("\n\n")) == sorted(stanzas)
    assert copy != text
    assert copy == "".join(shuffle_stanzas(pieces, rng=random.Random(0)))


def test_shuffle_stanzas_window_bounds_what_is_held():
    stanzas = [f"stanza {i}" for i in range(40)]
    copy = "".join(shuffle_stanzas(["\n\n".join(stanzas)], rng=random.Random(1), window_chars=30))
    parts = copy.split("\n\n")
    assert sorted(parts) == sorted(stanzas)
    # Windows of ~30 characters: each stanza stays within a few places of where it was.
    assert all(abs(parts.index(s) - i) < 8 for i, s in enumerate(stanzas))


def test_worker_batch_sends_text_beyond_its_budget_by_file(tmp_path, monkeypatch):
    from corpus import worker

    folder = tmp_path / "in"
    folder.mkdir()
    names = []
    for number in range(6):
        names.append(f"d{number}.txt")
        (folder / names[-1]).write_text(" ".join(f"w{number}x{i}" for i in range(40)))
    monkeypatch.setattr(worker, "BATCH_CHARS", 600)  # room for about two documents
    worker._start_worker(folder, ["eos", "whitespace"], None, tmp_path)
    results = worker._clean_batch(names)
    in_memory = [result.cleaned.text is not None for result in results]
    assert in_memory[:2] == [True, True] and not any(in_memory[3:])
    for name, result in zip(names, results, strict=True):
        assert "".join(result.cleaned.pieces()) == (folder / name).read_text()
        result.cleaned.discard()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in"]
