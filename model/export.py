"""`python -m model export (--run RUN | --base NAME) --out DIR`: a serving folder for the API.

Writes llama.cpp's model file (model.gguf, tokenizer embedded; users also take it to llama.cpp
and Ollama), ONNX Runtime's (model.onnx), the tokenizer the API encodes with (encoder.json,
vocab.bpe), hparams.json and meta.json into a temporary folder beside DIR, checks that both
engines score a probe text like TensorFlow does, and only then swaps the folder in. A failed
check leaves DIR as it was.
"""

import datetime
import json
import shutil
import sys
import time
from pathlib import Path

from cli import UsageError
from contracts import ENCODER, GGUF_MODEL, HPARAMS, META, ONNX_MODEL, VOCAB_BPE, read_hparams
from model import best_checkpoint, checkpoint_file, gguf_writer, onnx_writer, parity, paths
from model.staging import staging_folder, swap_in
from model.tokenizer import EOS_TOKEN

FORMAT = 3  # 1: CTranslate2 model files; 2: model.gguf; 3: model.gguf + model.onnx
TOKENIZER_FILES = (ENCODER, VOCAB_BPE, HPARAMS)
# Measured on the GPT-2-124M shape (random weights; single-thread CPU ms per new token at batch
# 1 / 32, and mean |Δ log p| against TensorFlow on the probe):
#   q8_0 8.2 / 3.6 ms, 0.010 nats, 130 MB   q4_0 6.2 / 3.0 ms, 0.11 nats, 70 MB
#   bf16 11.9 / 3.6 ms, 0.003 nats, 240 MB  f16 13.9 / 5.4 ms
# q4_0 is the fastest (on this CPU llama.cpp repacks its layer matrices for AVX-512; q8_0 has
# no repacked layout) but moves log-probabilities ten times as much as q8_0.
DEFAULT_WEIGHTS = "q8_0"


def add_arguments(parser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="fine-tuned run in $GHOST_DATA_DIR/checkpoint/RUN")
    source.add_argument("--base", help="base model as-is in $GHOST_DATA_DIR/models/NAME")
    parser.add_argument("--out", required=True, type=Path, help="serving folder to write")
    parser.add_argument(
        "--checkpoint",
        choices=best_checkpoint.CHOICES,
        default="best",
        help="a run's checkpoint: best (lowest validation loss; the latest when the run has "
        "none) or latest (default best)",
    )
    parser.add_argument(
        "--quantization",
        choices=gguf_writer.WEIGHT_TYPES,
        default=DEFAULT_WEIGHTS,
        help=f"weight type of the matrices in model.gguf (default {DEFAULT_WEIGHTS}); f32 also "
        "writes model.onnx's matrices in f32 (else int8)",
    )
    parser.add_argument(
        "--onnx-kv-type",
        choices=onnx_writer.KV_TYPES,
        default=onnx_writer.DEFAULT_KV_TYPE,
        help=f"KV cell type model.onnx's graph takes (default {onnx_writer.DEFAULT_KV_TYPE})",
    )


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def build_meta(args, source: Path, quantization_check: dict) -> dict:
    hparams = read_hparams(source)
    records = best_checkpoint.run_folder_of(source)
    run_info = read_json(records / "run.json") or {}
    evaluation = read_json(records / "eval.json")
    dataset = run_info.get("dataset")
    return {
        "format": FORMAT,
        "name": args.out.name,
        "base": args.base or run_info.get("base"),
        "run": args.run,
        "step": checkpoint_file.latest_step(source),
        "quantization": args.quantization,
        "n_ctx": hparams["n_ctx"],
        "n_vocab": hparams["n_vocab"],
        "eos_token": EOS_TOKEN,
        "dataset": dataset if isinstance(dataset, dict) else None,
        # eval.json's headline numbers when evaluate wrote a summary, else the whole file.
        "eval": evaluation.get("summary", evaluation) if isinstance(evaluation, dict) else None,
        "onnx": {"weights": onnx_weights(args), "kv_type": args.onnx_kv_type},
        "parity": quantization_check,
        "exported_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def onnx_weights(args) -> str:
    return "f32" if args.quantization == "f32" else "int8"


def check_out(out: Path) -> None:
    """Refuses to replace a folder that is not an earlier export: it may hold anything."""
    if out.exists() and not (out / META).is_file():
        raise UsageError(
            f"{out} exists and is not a serving folder (no meta.json); choose another --out "
            "or remove it"
        )


def write_serving_folder(args, source: Path, staging: Path) -> dict:
    """Converts, checks and describes the model in `staging`; returns the parity result."""
    n_ctx = read_hparams(source)["n_ctx"]
    served = staging / GGUF_MODEL
    gguf_writer.write(source, served, weight_type=args.quantization)
    # The exact check needs f32 weights; a smaller type's rounding is then measured against it.
    float32 = served if args.quantization == "f32" else staging / "f32-check.gguf"
    if float32 != served:
        gguf_writer.write(source, float32, weight_type="f32")
    for name in TOKENIZER_FILES:  # the ONNX check loads the folder as serving does
        shutil.copyfile(source / name, staging / name)
    onnx_writer.write(
        source, staging / ONNX_MODEL, kv_type=args.onnx_kv_type, int8=onnx_weights(args) == "int8"
    )
    result = parity.check(
        source, float32, served, weights=args.quantization, n_ctx=n_ctx, onnx_folder=staging
    )
    if float32 != served:
        float32.unlink()
    meta = build_meta(args, source, result)
    (staging / META).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return result


def run(args) -> int:
    started = time.monotonic()
    source = paths.run_path(args.run) if args.run else paths.base_path(args.base)
    if args.run:
        source, why = best_checkpoint.select(source, args.checkpoint)
        print(f"exporting {why}")
    check_out(args.out)
    staging = staging_folder(args.out)
    try:
        result = write_serving_folder(args, source, staging)
        if not result["passed"]:
            message = f"error: {parity.describe(result)}; nothing written to {args.out}"
            print(message, file=sys.stderr)
            return 1
        swap_in(staging, args.out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    size = sum(p.stat().st_size for p in args.out.iterdir()) / 2**20
    print(
        f"exported {source} → {args.out} ({args.quantization}, {size:.1f} MiB) in "
        f"{time.monotonic() - started:.1f} s; {parity.describe(result)}"
    )
    return 0
