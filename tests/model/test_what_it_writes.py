"""What a trained model writes: `model sample`, and no separator or filler in served text.

The model is the tiny shape trained here on documents separated by `<|endoftext|>`, with a
vocabulary padded by filler ids (--exact-vocab), so both the end id and the ban on fillers are
exercised. Samples go through the API app (Flask test client, TensorFlow reference engine).
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from api import create_app
from tests.fixtures import tiny_corpus
from tests.fixtures.models import check_cli, run_model_cli

SHAPE = [*("--n-layer", "2"), *("--n-embd", "64"), *("--n-head", "2"), *("--n-ctx", "64")]
# The tiny corpus cannot fill 3000 ids with merges: the rest are <|unusedN|> fillers.
VOCAB = ["--vocab-size", "3000", "--exact-vocab"]
SEPARATOR_PIECES = re.compile(r"<\||\|>|endoftext|unused\d")
CONTINUATIONS = 504  # 63 requests of 8 samples
LOAD_TIMEOUT_S = 120
# The module's first test also makes the model (init + 120 training steps): minutes on a busy
# 2-core machine.
pytestmark = pytest.mark.timeout(600)


@dataclass(frozen=True)
class Trained:
    data_dir: Path
    run_dir: Path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trained:
    data_dir = tmp_path_factory.mktemp("writes")
    docs = tiny_corpus.documents(400, seed=21)
    train = data_dir / "train.txt"
    train.write_text(tiny_corpus.join_documents(docs[:360]), encoding="utf-8")
    val = data_dir / "val.txt"
    val.write_text(tiny_corpus.join_documents(docs[360:]), encoding="utf-8")
    check_cli(data_dir, "init", "ends", "--corpus", str(train), *SHAPE, *VOCAB)
    finetune = ["finetune", "--base", "ends", "--dataset", str(train), "--run", "ends"]
    schedule = ["--steps", "120", "--learning-rate", "0.003", "--sample-every", "0"]
    check_cli(data_dir, *finetune, *schedule, "--val", str(val), "--val-every", "40")
    return Trained(data_dir, data_dir / "checkpoint" / "ends")


def test_the_base_has_fillers_to_ban(trained):
    vocab = json.loads((trained.run_dir / "encoder.json").read_text(encoding="utf-8"))
    assert len(vocab) == 3000 and sum(t.startswith("<|unused") for t in vocab) > 100


@pytest.mark.timeout(900)  # 63 requests of 8 samples, plus the model when this runs first
def test_served_text_never_spells_the_separator_or_a_filler(trained):
    app = create_app(
        {"models_dir": trained.data_dir / "checkpoint", "engine": "tensorflow", "max_slots": 8}
    )
    service = app.extensions["ghostwriter"]
    try:
        assert service.registry.wait_ready(LOAD_TIMEOUT_S), service.registry.load_error
        client = app.test_client()
        samples = []
        for seed in range(CONTINUATIONS // 8):
            asked = {"prefix": "" if seed % 3 == 0 else "The", "length": 40, "temperature": 1.0}
            response = client.post("/generate", json={**asked, "seed": seed, "nsamples": 8})
            assert response.status_code == 200, response.get_json()
            samples += response.get_json()["samples"]
    finally:
        service.registry.close()
    assert len(samples) >= 500
    leaks = [s["text"] for s in samples if SEPARATOR_PIECES.search(s["text"])]
    assert not leaks, leaks[:5]
    # The model learned to end a text with the one end id (documents are ~150 tokens long).
    assert sum(s["finish_reason"] == "eos" for s in samples) > 0


def test_sample_prints_seeded_samples_from_the_best_checkpoint(trained):
    args = ["sample", "--run", "ends", "--prefix", "The", "--length", "20", "--seed", "7"]
    first = check_cli(trained.data_dir, *args, "--nsamples", "2")
    assert "sampling run ends: the best checkpoint (step" in first.stdout
    headers = [line for line in first.stdout.splitlines() if line.startswith("=" * 40)]
    assert [h.split(" sample ")[1].split(" ")[0] for h in headers] == ["1", "2"]
    texts = first.stdout.split("=" * 40)[1:]
    assert all(text.split("\n", 1)[1].startswith("The") for text in texts)
    latest = check_cli(trained.data_dir, *args, "--checkpoint", "latest")
    assert "the latest checkpoint (step 120), as asked" in latest.stdout


def test_sample_reads_an_exported_serving_folder_with_the_serving_engine(tiny_serving_model):
    folder = str(tiny_serving_model.path)
    args = ["sample", "--model", folder, "--length", "12", "--nsamples", "2", "--seed", "3"]
    result = check_cli(tiny_serving_model.models_dir, *args)
    assert f"sampling serving folder {folder}" in result.stdout
    headers = [line for line in result.stdout.splitlines() if line.startswith("=" * 40)]
    assert len(headers) == 2 and all("(12 tokens, length)" in h or "eos)" in h for h in headers)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--run", "ends", "--temperature", "5"], "--temperature: temperature must be between"),
        (["--run", "ends", "--nsamples", "0"], "--nsamples"),
        (["--run", "nope"], "no fine-tuned run 'nope'"),
        (["--model", "{missing}"], "not a serving folder"),
    ],
)
def test_bad_sample_settings_are_one_line_naming_the_fix(trained, tmp_path, argv, message):
    argv = [a.format(missing=tmp_path / "none") for a in argv]
    result = run_model_cli(trained.data_dir, "sample", *argv)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
