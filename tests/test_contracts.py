"""The artifact-folder formats: round trips through `contracts`, and every stage using them."""

import ast
import json
from pathlib import Path

import pytest

import contracts
from contracts import ArtifactError

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("crawler", "corpus", "model", "api")
# Literals that only `contracts` may spell: a stage with its own copy can drift from the others.
CONTRACT_LITERALS = {
    contracts.EOS_TOKEN,
    contracts.CORPUS_INDEX,
    contracts.HPARAMS,
    contracts.META,
    "model_checkpoint_path",
}


def test_index_line_round_trip():
    record = {
        "id": "ep-001",
        "title": "Pokémon — “I Choose You!”",
        "url": "https://example.org/wiki/EP001",
        "source": "bulbapedia",
        "sha256": "0" * 64,
        "fetched_at": "2026-11-30T08:00:00+00:00",
    }
    line = contracts.index_line(record)
    assert line.endswith("\n") and line.count("\n") == 1
    assert contracts.parse_index_line(line) == record
    assert contracts.document_name(record["id"]) == "ep-001.txt"


@pytest.mark.parametrize("line", ['{"id": 7}', "[1, 2]", '"ep"', "{not json", '{"title": "x"}'])
def test_index_line_that_is_no_record_is_refused(line):
    with pytest.raises(ValueError):
        contracts.parse_index_line(line)


def test_training_text_splits_back_into_documents():
    documents = ["first\nwith two lines", "second", ""]
    text = contracts.training_text(documents)
    assert text.split(contracts.DOCUMENT_DELIMITER)[:-1] == documents
    assert text.endswith("\n<|endoftext|>\n")
    assert contracts.PREPARED_FILES == ("train.txt", "val.txt", "test.jsonl", "stats.json")


def test_hparams_round_trip(tmp_path):
    hparams = {"n_vocab": 512, "n_ctx": 128, "n_embd": 64, "n_head": 2, "n_layer": 2}
    (tmp_path / "hparams.json").write_text(json.dumps(hparams))
    assert contracts.read_hparams(tmp_path) == hparams


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("{", "is not JSON"),
        ("[]", "holds no JSON object"),
        ('{"n_vocab": 512, "n_ctx": "128"}', "lacks integer n_ctx, n_embd, n_head, n_layer"),
    ],
)
def test_bad_hparams_name_the_file(tmp_path, content, message):
    if content is not None:
        (tmp_path / "hparams.json").write_text(content)
    with pytest.raises(ArtifactError, match=message) as caught:
        contracts.read_hparams(tmp_path)
    assert str(tmp_path / "hparams.json") in str(caught.value)


def write_checkpoint_index(folder: Path, recorded_path: str, *, weights: bool = True) -> None:
    # TensorFlow's format, as gpt-2-simple's saver leaves it: absolute paths of the trainer.
    (folder / "checkpoint").write_text(
        f'model_checkpoint_path: "{recorded_path}"\nall_model_checkpoint_paths: "{recorded_path}"\n'
    )
    if weights:
        name = Path(recorded_path).name
        (folder / f"{name}.index").write_bytes(b"")
        (folder / f"{name}.data-00000-of-00001").write_bytes(b"")


@pytest.mark.parametrize(("name", "step"), [("model-1200", 1200), ("model.ckpt", 0)])
def test_checkpoint_found_by_file_name_in_a_moved_folder(tmp_path, name, step):
    write_checkpoint_index(tmp_path, f"/elsewhere/checkpoint/run1/{name}")
    prefix = contracts.checkpoint_prefix(tmp_path)
    assert prefix == tmp_path / name
    assert contracts.checkpoint_step(prefix) == step


def test_checkpoint_without_weights_or_entry_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="not a saved model folder"):
        contracts.checkpoint_prefix(tmp_path)
    write_checkpoint_index(tmp_path, "/elsewhere/model-5", weights=False)
    with pytest.raises(ArtifactError, match="model-5, whose files are missing"):
        contracts.checkpoint_prefix(tmp_path)
    (tmp_path / "checkpoint").write_text('all_model_checkpoint_paths: "model-5"\n')
    with pytest.raises(ArtifactError, match="names no model_checkpoint_path"):
        contracts.checkpoint_prefix(tmp_path)


def test_meta_round_trip(tmp_path):
    meta = {key: None for key in contracts.META_KEYS} | {"name": "demo", "n_ctx": 256}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    assert contracts.read_meta(tmp_path) == meta
    with pytest.raises(ArtifactError, match="is not an exported model folder"):
        contracts.read_meta(tmp_path / "missing")


def code_literals(path: Path) -> set[str]:
    """The string constants of a module, docstrings left out (prose may name the formats)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    }


@pytest.mark.parametrize("stage", STAGES)
def test_stages_take_the_formats_from_contracts(stage):
    copies = {
        f"{path.relative_to(ROOT)}: {literal!r}"
        for path in sorted((ROOT / stage).rglob("*.py"))
        for literal in code_literals(path) & CONTRACT_LITERALS
    }
    assert not copies, f"import these from contracts instead: {sorted(copies)}"


def test_stages_hold_the_shared_objects():
    from corpus import output, reader, rules
    from crawler import corpus_folder
    from model import checkpoint_file, continuation
    from model import tokenizer as model_tokenizer
    from serving import tokenizer as api_tokenizer

    for module in (rules, model_tokenizer, continuation, api_tokenizer):
        assert module.EOS_TOKEN is contracts.EOS_TOKEN, module.__name__
    assert reader.CORPUS_INDEX is corpus_folder.CORPUS_INDEX is contracts.CORPUS_INDEX
    assert output.DOCUMENT_DELIMITER is contracts.DOCUMENT_DELIMITER
    assert checkpoint_file.latest_prefix is contracts.checkpoint_prefix
