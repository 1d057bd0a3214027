"""The corpus folder writer: atomic documents, an index that survives kills."""

import hashlib
import json

import pytest

from crawler.corpus_folder import CorpusFolder


def add(folder: CorpusFolder, doc_id: str, text: str = "some text") -> dict:
    return folder.add(
        doc_id=doc_id, title=f"T {doc_id}", url=f"http://x/{doc_id}", source="s", text=text
    )


def test_document_and_index_line(tmp_path):
    record = add(CorpusFolder(tmp_path), "EP001", "Pokémon text")
    assert (tmp_path / "EP001.txt").read_bytes() == "Pokémon text".encode()
    line = json.loads((tmp_path / "index.jsonl").read_text("utf-8"))
    assert line == record
    assert set(line) == {"id", "title", "url", "source", "sha256", "fetched_at"}
    assert line["sha256"] == hashlib.sha256("Pokémon text".encode()).hexdigest()
    assert CorpusFolder(tmp_path).finished_ids() == {"EP001"}


def test_unterminated_index_line_from_a_kill_is_cut_off(tmp_path):
    folder = CorpusFolder(tmp_path)
    add(folder, "A")
    with (tmp_path / "index.jsonl").open("a") as f:
        f.write('{"id": "B", "tit')
    reopened = CorpusFolder(tmp_path)
    assert reopened.finished_ids() == {"A"}
    add(reopened, "B")
    ids = [json.loads(line)["id"] for line in (tmp_path / "index.jsonl").read_text().splitlines()]
    assert ids == ["A", "B"]


def test_leftover_partial_files_are_removed(tmp_path):
    (tmp_path / ".partial-abc123").write_text("half a docu")
    CorpusFolder(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_text_without_index_line_counts_as_unfinished(tmp_path):
    (tmp_path / "EP002.txt").write_text("written, then killed before the index line")
    folder = CorpusFolder(tmp_path)
    assert not folder.is_finished("EP002")
    add(folder, "EP002", "complete")
    assert (tmp_path / "EP002.txt").read_text() == "complete"


@pytest.mark.parametrize("doc_id", ["", "../escape", "a/b", ".hidden", "x" * 200, "sp ace"])
def test_unsafe_ids_are_refused(tmp_path, doc_id):
    with pytest.raises(ValueError, match="file name"):
        add(CorpusFolder(tmp_path), doc_id)


def test_damaged_index_line_names_the_fix(tmp_path):
    (tmp_path / "index.jsonl").write_text('{"id": "A"}\nnot json\n')
    with pytest.raises(ValueError, match=r"index.jsonl:2 .*fix or delete"):
        CorpusFolder(tmp_path)
