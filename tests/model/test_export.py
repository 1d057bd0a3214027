"""`python -m model export`: llama.cpp serving folders that score like TensorFlow."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from model import conversion, parity, scoring
from model.__main__ import main as model_main
from model.export import DEFAULT_WEIGHTS
from model.tokenizer import load_fast_tokenizer
from tests.fixtures.models import REPO_ROOT, check_cli, run_model_cli

MODEL_FILES = {"model.gguf", "model.onnx"}
SERVING_FILES = MODEL_FILES | {"encoder.json", "vocab.bpe", "hparams.json", "meta.json"}


def test_f32_folder_follows_the_serving_contract(tiny_base, tiny_serving_model):
    folder = tiny_serving_model.path
    assert {p.name for p in folder.iterdir()} == SERVING_FILES
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["format"] == 3 and meta["name"] == "tiny" and meta["base"] == "tiny"
    assert meta["run"] is None and meta["step"] == 0 and meta["quantization"] == "f32"
    assert (meta["n_ctx"], meta["n_vocab"], meta["eos_token"]) == (128, 512, "<|endoftext|>")
    assert meta["dataset"] is None and meta["eval"] is None and meta["exported_at"]
    parity_result = meta["parity"]
    assert parity_result["passed"] and parity_result["serving_tokenizer_match"]
    assert parity_result["gguf_tokenizer_match"]
    assert parity_result["float32_max_abs_diff"] <= 1e-3
    for name in ("encoder.json", "vocab.bpe", "hparams.json"):
        assert (folder / name).read_bytes() == (tiny_base.path / name).read_bytes()


def test_gguf_carries_the_tokenizer_and_gpt2_shape(tiny_serving_model):
    import gguf

    reader = gguf.GGUFReader(str(tiny_serving_model.path / "model.gguf"))

    def value(key):
        return reader.fields[key].contents()

    assert value("general.architecture") == "gpt2"
    assert (value("gpt2.block_count"), value("gpt2.embedding_length")) == (2, 64)
    assert (value("gpt2.context_length"), value("gpt2.attention.head_count")) == (128, 2)
    assert (value("tokenizer.ggml.model"), value("tokenizer.ggml.pre")) == ("gpt2", "gpt-2")
    encoder = json.loads((tiny_serving_model.path / "encoder.json").read_text(encoding="utf-8"))
    assert value("tokenizer.ggml.tokens") == sorted(encoder, key=encoder.__getitem__)
    kinds = value("tokenizer.ggml.token_type")
    assert kinds[-1] == gguf.TokenType.CONTROL and set(kinds[:-1]) == {gguf.TokenType.NORMAL}
    assert value("tokenizer.ggml.eos_token_id") == 511
    assert "output.weight" not in {t.name for t in reader.tensors}  # tied to token_embd


@pytest.mark.timeout(180)
def test_llama_scores_unseen_text_like_tensorflow(tiny_base, tiny_serving_model):
    fast = load_fast_tokenizer(tiny_serving_model.path)
    text = tiny_base.val_txt.read_text(encoding="utf-8")[:4000]
    windows = [fast.encode(text[i : i + 400]).ids[:128] for i in range(0, 4000, 400)]
    reference = scoring.token_logprobs(tiny_base.path, windows, batch_size=4)
    for ids, expected in zip(windows, reference, strict=True):
        got = parity.llama_scores(tiny_serving_model.path / "model.gguf", ids)
        assert got.shape == (len(ids) - 1,)
        assert np.abs(got - expected).max() <= 1e-3


def test_q8_0_export_reports_its_rounding(tiny_serving_model, tiny_serving_model_int8):
    meta = json.loads((tiny_serving_model_int8.path / "meta.json").read_text())
    assert meta["quantization"] == "q8_0" and meta["parity"]["passed"]
    assert meta["parity"]["float32_max_abs_diff"] <= 1e-3
    assert 0 < meta["parity"]["weights_mean_abs_diff"] < 0.05
    q8_size = (tiny_serving_model_int8.path / "model.gguf").stat().st_size
    assert q8_size < (tiny_serving_model.path / "model.gguf").stat().st_size / 2


def make_run(tiny_base, run: str, step: int):
    """A run folder as gpt-2-simple's finetune leaves it: model-STEP.* plus finetune's run.json
    and evaluate's eval.json (the base's weights stand in for trained ones)."""
    folder = tiny_base.data_dir / "checkpoint" / run
    folder.mkdir(parents=True)
    for source in tiny_base.path.iterdir():
        name = source.name.replace("model.ckpt", f"model-{step}")
        if name != "checkpoint":
            shutil.copyfile(source, folder / name)
    # gpt-2-simple's saver writes absolute paths; this run was made elsewhere, then moved here.
    made_at = f"/elsewhere/checkpoint/{run}/model-{step}"
    (folder / "checkpoint").write_text(
        f'model_checkpoint_path: "{made_at}"\nall_model_checkpoint_paths: "{made_at}"\n'
    )
    dataset = {"path": str(tiny_base.train_txt), "sha256": "ab" * 32, "tokens": 123456}
    (folder / "run.json").write_text(json.dumps({"base": "tiny", "dataset": dataset}))
    (folder / "eval.json").write_text(json.dumps({"summary": {"val_perplexity": 9.5}}))
    return folder, dataset


@pytest.mark.timeout(180)
def test_export_of_a_run_carries_step_dataset_and_eval(tiny_base, tmp_path):
    _, dataset = make_run(tiny_base, "export-run", 7)
    out = tmp_path / "serving" / "demo"
    check_cli(tiny_base.data_dir, "export", "--run", "export-run", "--out", str(out))
    meta = json.loads((out / "meta.json").read_text())
    assert (meta["run"], meta["base"], meta["step"]) == ("export-run", "tiny", 7)
    assert meta["quantization"] == DEFAULT_WEIGHTS and meta["name"] == "demo"
    assert meta["dataset"] == dataset and meta["eval"] == {"val_perplexity": 9.5}


@pytest.mark.timeout(180)
def test_failed_parity_writes_nothing(tiny_base, tiny_serving_model, monkeypatch, tmp_path, capsys):
    """A conversion bug (here: position embeddings shifted by one) must fail the export and leave
    the existing serving folder untouched."""
    real_read = conversion.read_weights

    def shifted_positions(model_dir):
        weights = real_read(model_dir)
        weights["model/wpe"] = np.roll(weights["model/wpe"], 1, axis=0)
        return weights

    monkeypatch.setattr(conversion, "read_weights", shifted_positions)
    monkeypatch.setenv("GHOST_DATA_DIR", str(tiny_base.data_dir))
    out = tmp_path / "tiny"
    shutil.copytree(tiny_serving_model.path, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    argv = ["export", "--base", "tiny", "--out", str(out), "--quantization", "f32"]
    assert model_main(argv) == 1
    assert "parity check failed" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["tiny"]


@pytest.mark.timeout(180)
def test_a_serving_tokenizer_that_splits_differently_fails_the_export(
    tiny_base, monkeypatch, tmp_path, capsys
):
    """Serving's vocab.bpe reader off by one line (as `tokenizers`' own file reader is on a file
    without a "#version" header): gpt-2-simple and the GGUF still agree, serving does not."""
    import serving.tokenizer

    real_read = serving.tokenizer._read_merges
    monkeypatch.setattr(serving.tokenizer, "_read_merges", lambda path: real_read(path)[1:])
    monkeypatch.setenv("GHOST_DATA_DIR", str(tiny_base.data_dir))
    out = tmp_path / "tiny"
    assert model_main(["export", "--base", "tiny", "--out", str(out), "--quantization", "f32"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(
        "error: parity check failed: the serving tokenizer (serving/tokenizer.py)"
    )
    assert "other ids than gpt-2-simple's encoder" in line
    assert not out.exists()


@pytest.mark.timeout(180)
def test_a_vocab_bpe_that_serving_cannot_read_fails_the_export(tiny_base, tmp_path):
    """gpt-2-simple splits merge lines on any whitespace, `tokenizers` (serving) needs exactly
    "left right": a doubled space trains fine and would leave the API unable to load the model."""
    folder = tmp_path / "models" / "spaced"
    shutil.copytree(tiny_base.path, folder)
    lines = (folder / "vocab.bpe").read_text(encoding="utf-8").split("\n")
    lines[5] = lines[5].replace(" ", "  ")
    (folder / "vocab.bpe").write_text("\n".join(lines), encoding="utf-8")
    out = tmp_path / "serving" / "spaced"
    result = run_model_cli(tmp_path, "export", "--base", "spaced", "--out", str(out))
    assert result.returncode == 1
    (line,) = [text for text in result.stderr.splitlines() if text.startswith("error:")]
    assert (
        "the serving tokenizer (serving/tokenizer.py) cannot read encoder.json + vocab.bpe" in line
    )
    assert not out.exists()


# Flask made unimportable, as in the trainer image: export must still import and build serving's
# tokenizer, while the app factory (the control) must fail.
WITHOUT_FLASK = """
import sys
from pathlib import Path
sys.modules["flask"] = None
import model.export
from model import parity
print(len(parity.ServingTokenizer(Path(sys.argv[1])).encode(parity.PROBE_TEXT)))
try:
    from api import create_app
except ImportError:
    print("no app factory")
"""


def test_export_and_the_serving_tokenizer_import_without_flask(tiny_base):
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_FLASK, str(tiny_base.path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    probe_tokens, control = result.stdout.splitlines()
    assert int(probe_tokens) > 0 and control == "no app factory"


def test_unknown_run_lists_the_runs(tmp_path):
    (tmp_path / "checkpoint" / "lyrics-1").mkdir(parents=True)
    (tmp_path / "checkpoint" / "lyrics-1" / "checkpoint").write_text("")
    result = run_model_cli(tmp_path, "export", "--run", "nope", "--out", str(tmp_path / "s"))
    assert result.returncode == 2
    assert "'nope'" in result.stderr and "lyrics-1" in result.stderr


def test_unknown_base_names_download_and_init(tmp_path):
    result = run_model_cli(tmp_path, "export", "--base", "nope", "--out", str(tmp_path / "s"))
    assert result.returncode == 2
    assert "model download" in result.stderr and "model init" in result.stderr


def test_refuses_to_overwrite_a_folder_that_is_not_an_export(tiny_base, tmp_path):
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep me")
    out = str(tmp_path / "precious")
    result = run_model_cli(tiny_base.data_dir, "export", "--base", "tiny", "--out", out)
    assert result.returncode == 2 and "not a serving folder" in result.stderr
    assert (tmp_path / "precious" / "notes.txt").read_text() == "keep me"


def write_sharp_run(tiny_base, run: str):
    """A run whose weights are far from initialisation (large, random), so activations leave
    the near-linear range where GELU variants, norms or softmax slips would hide."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(tiny_base.path / "model.ckpt"))
    rng = np.random.default_rng(1)
    folder = tiny_base.data_dir / "checkpoint" / run
    folder.mkdir(parents=True)
    for name in ("hparams.json", "encoder.json", "vocab.bpe"):
        shutil.copyfile(tiny_base.path / name, folder / name)
    graph = tf.Graph()
    with graph.as_default():
        variables = []
        for name, shape in reader.get_variable_to_shape_map().items():
            scale = 0.3 if name.endswith(("/w", "wte", "wpe")) else 0.5
            value = rng.normal(1.0 if name.endswith("/g") else 0.0, scale, shape)
            variables.append(tf.compat.v1.Variable(value.astype(np.float32), name=name))
        saver = tf.compat.v1.train.Saver(var_list=variables)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(folder / "model"), global_step=5)
    return folder


@pytest.mark.timeout(180)
def test_parity_holds_for_weights_far_from_initialisation(tiny_base, tmp_path):
    folder = write_sharp_run(tiny_base, "sharp")
    out = tmp_path / "sharp"
    argv = ["export", "--run", "sharp", "--out", str(out), "--quantization", "f32"]
    check_cli(tiny_base.data_dir, *argv)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["step"] == 5 and meta["parity"]["float32_max_abs_diff"] <= 0.01
    ids = parity.reference_ids(folder)
    logprobs = parity.llama_scores(out / "model.gguf", ids[:128])
    # Far from uniform (-6.24 everywhere), so the parity above is a demanding one.
    assert logprobs.std() > 1.0
