"""The quality section's corpora (Debian's packages, read for real) and its pure judgements."""

import pytest

from bench import quality, quality_corpora
from contracts import DOCUMENT_DELIMITER


@pytest.fixture(scope="module")
def fortunes():
    return quality_corpora.fortunes(smoke=False)


def test_fortunes_split_by_document_covers_every_file(fortunes):
    train = fortunes.train.split(DOCUMENT_DELIMITER)[:-1]
    val = fortunes.val.split(DOCUMENT_DELIMITER)[:-1]
    assert 2_000_000 < len(fortunes.train) + len(fortunes.val) < 3_200_000
    # One document in ten validates: the split is by whole fortunes, none in both halves.
    assert len(val) == pytest.approx(len(train) / 9, rel=0.01)
    assert not set(val) & set(train)
    # The files' "%" separators are gone, and the plain profile left no run of blank lines.
    assert "\n%\n" not in fortunes.train and "\n\n\n" not in fortunes.train
    # Every topic file is in both halves: the last file's (zippy) quotes mention Zippy/Yow.
    assert "Yow" in fortunes.val and "Yow" in fortunes.train


def test_kjv_split_keeps_the_first_90_percent_for_training():
    corpus = quality_corpora.kjv(smoke=True)
    assert corpus.train.startswith("Genesis 1\nIn the beginning God created")
    assert corpus.val.startswith("Genesis 12\n")
    total = len(corpus.train) + len(corpus.val)
    assert 0.9 * total <= len(corpus.train) < 0.9 * total + len("Genesis 11") + 4000


def test_chapters_undo_the_bible_programs_numbers_and_wrapping():
    printed = "\nGenesis 1\n\n  1 In the beginning\n    God created.\n  2 And the earth\n"
    assert quality_corpora.chapters(printed) == [
        "Genesis 1\nIn the beginning God created.\nAnd the earth"
    ]


@pytest.mark.parametrize(
    ("text", "counted"),
    [
        ("a\n\n\n\nb", True),
        ("a\n \n\t\n\nb", True),
        ("a\n\n\nb", False),  # two empty lines
        ("a\nb\n\nc\n\nd", False),
    ],
)
def test_a_blank_run_is_three_empty_lines_in_a_row(text, counted):
    assert quality.blank_run_share([text, "plain"]) == (0.5 if counted else 0.0)
