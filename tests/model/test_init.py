"""`python -m model init`: a base model in a downloaded model's layout, and its bad input."""

import argparse
import json
import subprocess
import sys

import pytest

from model import download, init
from tests.fixtures.models import REPO_ROOT, run_model_cli

# Loads the base the way finetune does, through gpt-2-simple's own loader, and lists variables.
LOAD_SCRIPT = """
import json, sys
import gpt_2_simple as gpt2
import tensorflow as tf
sess = gpt2.start_tf_sess(threads=1)
gpt2.load_gpt2(sess, model_name=sys.argv[2], model_dir=sys.argv[1])
shapes = {v.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}
print(json.dumps(shapes))
"""


def test_layout_matches_a_downloaded_model(tiny_base):
    # Exactly the files `model download` fetches: later commands treat both alike.
    assert {p.name for p in tiny_base.path.iterdir()} == set(download.FILES)
    hparams = json.loads((tiny_base.path / "hparams.json").read_text())
    assert hparams == {"n_vocab": 512, "n_ctx": 128, "n_embd": 64, "n_head": 2, "n_layer": 2}
    checkpoint = (tiny_base.path / "checkpoint").read_text()
    assert 'model_checkpoint_path: "model.ckpt"' in checkpoint


@pytest.mark.timeout(180)
def test_gpt2_simple_loads_the_base(tiny_base):
    result = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, str(tiny_base.data_dir / "models"), "tiny"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    shapes = json.loads(result.stdout.strip().splitlines()[-1])
    assert shapes["model/wte:0"] == [512, 64]
    assert shapes["model/wpe:0"] == [128, 64]
    assert shapes["model/h1/attn/c_attn/w:0"] == [1, 64, 192]


def test_124m_shape_has_gpt2_dimensions():
    args = init_args(shape="124M")
    assert init.resolve_hparams(args, corpus_bytes=10_000) == {
        "n_vocab": 50257,
        "n_ctx": 1024,
        "n_embd": 768,
        "n_head": 12,
        "n_layer": 12,
    }


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({}, {"n_layer": 2, "n_embd": 128, "n_vocab": 900}),
        ({"n_embd": 96, "vocab_size": 300}, {"n_layer": 2, "n_embd": 96, "n_vocab": 300}),
        ({"minutes": 0.5}, {"n_layer": 2, "n_embd": 64}),
    ],
)
def test_unnamed_dimensions_follow_the_sizing_rule(flags, expected):
    hparams = init.resolve_hparams(init_args(**flags), corpus_bytes=60_000)
    assert {key: hparams[key] for key in expected} == expected


def init_args(**flags):
    parser = argparse.ArgumentParser()
    init.add_arguments(parser)
    args = parser.parse_args(["x", "--corpus", "c.txt"])
    for key, value in flags.items():
        setattr(args, key, value)
    return args


@pytest.mark.parametrize(
    ("name", "argv", "message"),
    [
        ("m", ["--corpus", "{missing}"], "not found"),
        ("m", ["--corpus", "{small}"], "at least 1024 bytes"),
        ("m", ["--corpus", "{binary}"], "not UTF-8"),
        ("m", ["--corpus", "{corpus}", "--shape", "124M", "--n-layer", "2"], "drop --n-layer"),
        ("m", ["--corpus", "{corpus}", "--vocab-size", "100"], "--vocab-size must exceed 256"),
        ("m", ["--corpus", "{corpus}", "--n-embd", "65", "--n-head", "2"], "multiple of --n-head"),
        ("m", ["--corpus", "{corpus}", "--n-layer", "0"], "--n-layer must be positive"),
        ("m", ["--corpus", "{corpus}", "--minutes", "0"], "--minutes must be a positive number"),
        ("../escape", ["--corpus", "{corpus}"], "use letters, digits"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, name, argv, message):
    files = {
        "missing": tmp_path / "nope.txt",
        "small": tmp_path / "small.txt",
        "binary": tmp_path / "binary.txt",
        "corpus": tmp_path / "corpus.txt",
    }
    files["small"].write_text("too short")
    files["binary"].write_bytes(b"\xff\xfe" * 2000)
    files["corpus"].write_text("A reasonable corpus. " * 100)
    argv = [a.format(**{k: str(v) for k, v in files.items()}) for a in argv]
    result = run_model_cli(tmp_path / "data", "init", name, *argv)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "data" / "models").exists()


def test_refuses_to_replace_an_existing_base(tiny_base):
    result = run_model_cli(tiny_base.data_dir, "init", "tiny", "--corpus", str(tiny_base.train_txt))
    assert result.returncode == 2 and "--force" in result.stderr


@pytest.mark.timeout(300)
def test_124m_shape_builds_gpt2_124m_from_a_small_corpus(tiny_base, tmp_path):
    import tensorflow as tf

    result = run_model_cli(
        tmp_path, "init", "big", "--corpus", str(tiny_base.val_txt), "--shape", "124M"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "padded the vocabulary" in result.stdout
    folder = tmp_path / "models" / "big"
    encoder = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
    assert len(encoder) == 50257 and encoder["<|endoftext|>"] == 50256
    shapes = dict(tf.train.list_variables(str(folder / "model.ckpt")))
    assert shapes["model/wte"] == [50257, 768] and shapes["model/wpe"] == [1024, 768]
    assert shapes["model/h11/mlp/c_fc/w"] == [1, 768, 3072]
    assert len([name for name in shapes if name.endswith("/attn/c_attn/w")]) == 12
