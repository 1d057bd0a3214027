"""The models the benchmarks run on, made with the real `python -m model` CLI and reused.

Full run: GPT-2-124M's exact shape (`model init --shape 124M`, random weights) exported for
llama.cpp (model.gguf, export's default weight type) and ONNX Runtime (model.onnx), and the same
checkpoint converted to a CTranslate2 int8 folder: the engine ceiling's capacity reference.
Smoke run: a tiny model of the same layout, made in seconds.
"""

import os
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from contracts import GGUF_MODEL, HPARAMS, ONNX_MODEL

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY_SHAPE = ("--vocab-size", "512", "--n-layer", "2", "--n-embd", "64", "--n-head", "2")
# Words the benchmark corpus is drawn from.
WORD_TEXT = (
    "the a an and of to in on at by for with from over under river harbour market lantern "
    "storm coast road keeper story night honey jar key letter map clock train ticket orchard "
    "fox heron crow otter moth dog walked found carried painted forgot repaired counted followed "
    "described watched asked said felt was were had old young bright cold patient noisy gentle "
    "strange tired careful quiet empty small large first last seven forty two morning evening"
)


@dataclass(frozen=True)
class BenchModel:
    data_dir: Path  # GHOST_DATA_DIR holding models/NAME
    name: str
    base_dir: Path  # gpt-2-simple layout: what the original designs load
    serving_dir: Path  # exported serving folder (model.gguf, model.onnx): what the stack loads
    ctranslate2_dir: Path  # CTranslate2 int8 folder of the same checkpoint: the reference


def write_corpus(path: Path, *, sentences: int, seed: int = 0) -> None:
    """Deterministic word salad: enough distinct words for a BPE to learn real merges."""
    rng = random.Random(seed)
    vocabulary = WORD_TEXT.split()
    lines = []
    for _ in range(sentences):
        words = rng.choices(vocabulary, k=rng.randint(6, 18))
        lines.append(" ".join(words).capitalize() + ".")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n<|endoftext|>\n", encoding="utf-8")


def python_module(data_dir: Path, module: str, *args: str) -> str:
    """`python -m MODULE ARGS` in data_dir (GHOST_DATA_DIR): its stdout; RuntimeError with its
    stderr."""
    env = {**os.environ, "GHOST_DATA_DIR": str(data_dir), "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", module, *args]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"python -m {module} {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result.stdout


def model_cli(data_dir: Path, *args: str) -> str:
    """`python -m model ARGS` with GHOST_DATA_DIR=data_dir: its stdout; RuntimeError (its stderr)
    on failure."""
    return python_module(data_dir, "model", *args)


def ensure_model(data_dir: Path, *, smoke: bool) -> BenchModel:
    """Makes (once) and returns the benchmark model under data_dir; later runs reuse it."""
    name = "bench-tiny" if smoke else "bench-124m"
    model = BenchModel(
        data_dir,
        name,
        base_dir=data_dir / "models" / name,
        serving_dir=data_dir / "serving" / name,
        ctranslate2_dir=data_dir / "ctranslate2" / name,
    )
    if not (model.base_dir / HPARAMS).is_file():
        corpus = data_dir / "bench" / f"{name}-corpus.txt"
        write_corpus(corpus, sentences=3000 if smoke else 40000)
        shape = TINY_SHAPE if smoke else ("--shape", "124M")
        model_cli(data_dir, "init", name, "--corpus", str(corpus), *shape, "--force")
    # A folder exported before export wrote model.onnx lacks it: exported again, whole.
    if not all((model.serving_dir / name).is_file() for name in (GGUF_MODEL, ONNX_MODEL)):
        model_cli(data_dir, "export", "--base", name, "--out", str(model.serving_dir))
    if not (model.ctranslate2_dir / HPARAMS).is_file():  # conversion's last file
        shutil.rmtree(model.ctranslate2_dir, ignore_errors=True)  # a conversion cut short
        python_module(data_dir, "model.conversion", str(model.base_dir), str(model.ctranslate2_dir))
    return model
