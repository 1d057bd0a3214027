"""`python -m model finetune --base NAME --dataset TRAIN_TXT --run RUN`: gpt2.finetune, watched.

Trains `checkpoint/RUN` from base model NAME until --steps or --minutes (whichever comes first),
resuming where an earlier session of the same run stopped. SIGINT/SIGTERM save a checkpoint of
every completed step before exiting. Records run.json, metrics.jsonl and loss.png beside
gpt-2-simple's checkpoint and TensorBoard events (`tensorboard --logdir data/checkpoint`).

The dataset is pre-encoded (an .npz gpt2.finetune reads as it is): each `<|endoftext|>` separator
is the vocabulary's one end id, so the model learns to end a text rather than to spell the
separator. With --val, every --val-every steps the validation text is scored; the lowest
validation loss so far is kept as `checkpoint/RUN/best/` (what `export` serves by default), a
validation loss rising while the training loss falls prints a warning, and --patience validations
without a new best stop the run early.

Defaults follow the base model's size:
- models made by `model init` (narrower than 768; model/sizing.py picks their size for the
  budget): batch 4 x n_ctx tokens, learning rate 2e-3 with the cosine schedule (warm-up, then a
  decay to a tenth; model/lr_schedule.py), 2000 steps, validation every 100 and patience 5; the
  demo caps the run with --minutes. They start from random weights and get a few hundred updates
  in a few CPU minutes: the quality section's sweep chose the batch, rate and schedule.
- GPT-2 124M and larger (n_embd >= 768), for a GPU: batch 2 x 1024 tokens with gradients
  accumulated over 4 batches (fits a 16 GB card), learning rate 1e-4 (gpt-2-simple's), 1000 steps.
"""

import argparse
import contextlib
import fcntl
import math
import re
import shutil
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cli import UsageError
from contracts import read_hparams
from model import (
    best_checkpoint,
    checkpoint_file,
    lr_schedule,
    paths,
    run_record,
    token_data,
    training_log,
    validation,
)

DEMO = {
    "steps": 2000,
    "batch_size": 4,
    "accumulate_gradients": 1,
    "learning_rate": 2e-3,
    "lr_schedule": "cosine",
    "sample_every": 500,
    "save_every": 200,
    "val_every": 100,
    "patience": 5,
}
GPT2 = {
    "steps": 1000,
    "batch_size": 2,
    "accumulate_gradients": 4,
    "learning_rate": 1e-4,
    "lr_schedule": "constant",
    "sample_every": 250,
    "save_every": 250,
    "val_every": 100,
    "patience": 5,
}
# Bases at least this wide get the GPT-2 defaults (124M is 768 wide).
GPT2_MIN_EMBD = 768
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# Exit status when a signal stopped training (after saving): the shell's 128 + signal number.
SIGNAL_EXIT = {"SIGINT": 128 + signal.SIGINT, "SIGTERM": 128 + signal.SIGTERM}


def default_help(key: str) -> str:
    demo, gpt2 = (
        f"{value:g}" if not isinstance(value, str) else value for value in (DEMO[key], GPT2[key])
    )
    return f"default {demo} (demo model) / {gpt2} (GPT-2 size)"


def add_arguments(parser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--base", required=True, help="base model in $GHOST_DATA_DIR/models")
    parser.add_argument("--dataset", required=True, type=Path, help="training text (train.txt)")
    parser.add_argument("--run", required=True, help="run name: $GHOST_DATA_DIR/checkpoint/RUN")
    parser.add_argument(
        "--steps",
        type=int,
        help="stop after N steps in all, resumed sessions included; "
        + default_help("steps")
        + ", none with --minutes alone",
    )
    parser.add_argument("--minutes", type=float, help="stop after this much training time in all")
    flags = {
        "batch_size": "sequences of n_ctx tokens per batch",
        "accumulate_gradients": "batches per optimizer update",
        "learning_rate": "Adam learning rate",
        "sample_every": "print a sample every N steps, 0: never",
        "save_every": "save a checkpoint every N steps",
        "val_every": "validation loss every N steps (with --val), 0: never",
        "patience": "stop after N validations without a new best, 0: never",
    }
    for key, text in flags.items():
        kind = float if key == "learning_rate" else int
        flag = "--" + key.replace("_", "-")
        parser.add_argument(flag, type=kind, help=f"{text}; {default_help(key)}")
    parser.add_argument(
        "--lr-schedule",
        choices=lr_schedule.SCHEDULES,
        help="constant, or cosine: warm-up over the first 5 %% of the run, then a decay to a "
        "tenth of --learning-rate at its end (--steps or --minutes); "
        + default_help("lr_schedule"),
    )
    parser.add_argument("--val", type=Path, help="validation text (val.txt) for a val loss")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace RUN even if it holds another training"
    )


def resolve_settings(args, hparams: dict) -> dict:
    """Flags over the defaults for this base's size; checked, so gpt-2-simple never sees junk."""
    defaults = GPT2 if hparams["n_embd"] >= GPT2_MIN_EMBD else DEMO
    settings = {key: getattr(args, key) for key in defaults}
    settings = {key: defaults[key] if value is None else value for key, value in settings.items()}
    if args.minutes is not None and args.steps is None:
        settings["steps"] = None  # a time budget alone: train until it is spent
    positive = ["batch_size", "accumulate_gradients", "save_every", "learning_rate"]
    for key in [*positive, "steps"]:
        if settings[key] is not None and not settings[key] > 0:
            raise UsageError(f"--{key.replace('_', '-')} must be positive, got {settings[key]}")
    for key in ["sample_every", "val_every", "patience"]:
        if settings[key] < 0:
            raise UsageError(f"--{key.replace('_', '-')} must be 0 (never) or more")
    if args.minutes is not None and not (args.minutes > 0 and math.isfinite(args.minutes)):
        raise UsageError(f"--minutes must be a positive number, got {args.minutes}")
    settings["minutes"] = args.minutes
    if args.val is None:
        settings["val_every"] = 0
    return settings


def run_folder(name: str) -> Path:
    if not RUN_NAME.fullmatch(name):
        raise UsageError(
            f"run name {name!r} must be letters, digits, '.', '_' or '-' (starting with a "
            "letter or digit), e.g. --run lyrics-1"
        )
    return paths.checkpoint_dir() / name


def saved_step(run_dir: Path) -> int:
    return checkpoint_file.latest_step(run_dir) if (run_dir / "checkpoint").is_file() else 0


def anchor_to_saved_step(run_dir: Path, step: int) -> None:
    """Points gpt-2-simple's bookkeeping at the saved checkpoint model-STEP.

    `counter` (where it resumes) is written after the checkpoint and not atomically; the
    checkpoint's own step is the truth. TensorFlow's `checkpoint` file gets a path relative to the
    folder: gpt-2-simple writes an absolute one, and a run folder copied to another machine would
    then resume from the base model's weights without a word."""
    if not step:
        return
    files = {
        "counter": f"{step}\n",
        "checkpoint": f'model_checkpoint_path: "model-{step}"\n'
        f'all_model_checkpoint_paths: "model-{step}"\n',
    }
    for name, text in files.items():
        (run_dir / f".{name}.tmp").write_text(text)
        (run_dir / f".{name}.tmp").replace(run_dir / name)


def prune_stale_checkpoints(run_dir: Path, step: int) -> None:
    """A resumed session's saver does not know the previous session's files; only the latest
    checkpoint is kept, as gpt-2-simple's max_checkpoints=1 intends."""
    keep = f"model-{step}."
    for path in run_dir.glob("model-*"):
        if not path.name.startswith(keep):
            path.unlink()


def already_done(settings: dict, *, step: int, elapsed_s: float) -> str | None:
    if settings["steps"] is not None and step >= settings["steps"]:
        return f"{step} steps reached"
    if settings["minutes"] is not None and elapsed_s >= settings["minutes"] * 60:
        return f"{training_log.format_duration(elapsed_s)} of training spent"
    return None


def new_record(args, base_dir: Path, dataset: dict) -> dict:
    return {
        "format": run_record.FORMAT,
        "run": args.run,
        "base": args.base,
        "base_hparams": read_hparams(base_dir),
        "dataset": dataset,
        "created_at": run_record.now(),
    }


def train_session(
    run_dir: Path,
    base_dir: Path,
    settings: dict,
    *,
    step: int,
    rows: list,
    train_tokens: np.ndarray,
    val_tokens,
) -> str:
    """Runs gpt2.finetune once; returns why it stopped: steps, time budget, SIGINT or SIGTERM."""
    from model import training

    with tempfile.TemporaryDirectory(prefix=".tokens-", dir=run_dir) as folder:
        tokens_npz = Path(folder) / "train.npz"
        token_data.save_npz(tokens_npz, train_tokens)
        session = training.Session(
            run_dir=run_dir,
            base_dir=base_dir,
            tokens_npz=tokens_npz,
            first_step=step + 1,
            total_steps=settings["steps"],
            budget_s=None if settings["minutes"] is None else settings["minutes"] * 60,
            elapsed_before_s=rows[-1]["elapsed_s"] if rows else 0.0,
            tokens_before=rows[-1]["tokens"] if rows else 0,
            val_tokens=val_tokens,
            tracker=validation.restore(
                rows, patience=settings["patience"], best=best_checkpoint.read(run_dir)
            ),
            **{k: settings[k] for k in training.Session.SETTINGS},
        )
        with training.StopControl() as stop:
            try:
                training.train(session, stop)
            except KeyboardInterrupt:
                # A second signal: gpt-2-simple saved what it could; the checkpoint says what.
                stop.reason = stop.reason or "SIGINT"
        return stop.reason or "steps"


@contextlib.contextmanager
def exclusive(run_dir: Path):
    """One trainer per run: a second process on the same run would interleave checkpoints."""
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(run_dir.parent / f".{run_dir.name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"run {run_dir.name!r} is being trained by another process; wait for it to "
                "finish (or stop it: it saves on SIGTERM), or choose another --run"
            ) from None
        yield


@dataclass(frozen=True)
class StartingPoint:
    """Where a training session starts: a new run (no record, step 0) or a saved run's step."""

    record: dict | None = None  # run.json of the run to continue
    step: int = 0
    rows: list[dict] = field(default_factory=list)  # metrics.jsonl rows before `step`


def starting_point(args, run_dir: Path, settings: dict, sha: str) -> StartingPoint | None:
    """Where to start; None when the run has already reached its steps or minutes."""
    if args.overwrite:
        return StartingPoint()
    record = run_record.check_same_run(run_dir, base=args.base, dataset_sha256=sha)
    if record is None:
        return StartingPoint()
    step = saved_step(run_dir)
    rows = training_log.keep_metrics_before(run_dir, step)
    done = already_done(settings, step=step, elapsed_s=rows[-1]["elapsed_s"] if rows else 0)
    if done:
        print(f"run {args.run} is complete ({done}); raise --steps or --minutes to train on")
        return None
    print(f"resuming run {args.run} from step {step}")
    return StartingPoint(record, step, rows)


def run(args) -> int:
    base_dir = paths.base_path(args.base).resolve()
    hparams = read_hparams(base_dir)
    settings = resolve_settings(args, hparams)
    run_dir = run_folder(args.run).resolve()
    dataset = args.dataset.resolve()
    token_data.read_text(dataset, what="dataset")
    with exclusive(run_dir):
        start = starting_point(args, run_dir, settings, token_data.sha256_file(dataset))
        if start is None:
            return 0
        record, step, rows = start.record, start.step, start.rows
        n_ctx = hparams["n_ctx"]
        train_tokens = token_data.encode_checked(base_dir, dataset, n_ctx=n_ctx, what="dataset")
        val_tokens = None
        if args.val is not None:
            val = args.val.resolve()
            val_tokens = token_data.encode_checked(base_dir, val, n_ctx=n_ctx, what="--val file")
        if args.overwrite and run_dir.exists():
            shutil.rmtree(run_dir)
            print(f"--overwrite: removed the earlier {run_dir}")
        run_dir.mkdir(parents=True, exist_ok=True)
        record = record or new_record(
            args, base_dir, token_data.describe_file(dataset, train_tokens)
        )
        record["val"] = (
            None if val_tokens is None else token_data.describe_file(args.val, val_tokens)
        )
        record = run_record.start_session(record, from_step=step, parameters=settings)
        run_record.write(run_dir, record)
        anchor_to_saved_step(run_dir, step)
        stop = train_session(
            run_dir,
            base_dir,
            settings,
            step=step,
            rows=rows,
            train_tokens=train_tokens,
            val_tokens=val_tokens,
        )
        return finish(run_dir, record, stop)


def finish(run_dir: Path, record: dict, stop: str) -> int:
    """Records the session's end from what is on disk: the checkpoint decides the step."""
    step = saved_step(run_dir)
    if step:
        prune_stale_checkpoints(run_dir, step)
        anchor_to_saved_step(run_dir, step)
    rows = training_log.keep_metrics_before(run_dir, step)
    elapsed, tokens = (rows[-1]["elapsed_s"], rows[-1]["tokens"]) if rows else (0.0, 0)
    record = run_record.end_session(
        record, step=step, stop_reason=stop, elapsed_s=elapsed, tokens=tokens
    )
    record["best"] = best_checkpoint.read(run_dir)
    record["overfitting_warnings"] = [row["step"] for row in rows if row.get("overfitting")]
    run_record.write(run_dir, record)
    if rows:
        training_log.plot_losses(run_dir, rows)
    print(
        f"run {run_dir.name}: step {step} ({stop}), {tokens:,} tokens in "
        f"{training_log.format_duration(elapsed)}; checkpoint, run.json, metrics.jsonl and "
        f"loss.png in {run_dir}"
    )
    if record["best"]:
        best = record["best"]
        print(
            f"best checkpoint: step {best['step']}, validation loss {best['val_loss']:.3f}, in "
            f"{run_dir / best_checkpoint.FOLDER} (export serves it by default)"
        )
    if stop in SIGNAL_EXIT:
        print("interrupted: rerun the same command to resume from this checkpoint")
    return SIGNAL_EXIT.get(stop, 0)
