"""One training session: gpt2.finetune in a watched session, with the gaps it leaves filled in.

Imports TensorFlow; `model finetune` imports this only once its checks have passed.
"""

import contextlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from gpt_2_simple import gpt_2
from gpt_2_simple.src import model as gpt2_model

from contracts import read_hparams
from model.training_watch import StopControl, TrainingWatch, WatchedSession
from model.validation import ValidationTracker

__all__ = ["Session", "StopControl", "train"]

# gpt2.finetune prints its own loss line every `print_every` steps; the watch prints a progress
# line with the ETA instead, so the library's is pushed out of reach.
NEVER = 10**12
# Longest sample gpt2.finetune prints every `sample_every` steps (tokens, capped by n_ctx).
SAMPLE_TOKENS = 200


@dataclass(frozen=True)
class Session:
    """What one `finetune` invocation trains: steps first_step..total_steps at most (no step
    limit when total_steps is None: the time budget bounds it)."""

    run_dir: Path
    base_dir: Path
    tokens_npz: Path
    first_step: int
    total_steps: int | None
    budget_s: float | None
    elapsed_before_s: float
    tokens_before: int
    batch_size: int
    accumulate_gradients: int
    learning_rate: float
    lr_schedule: str
    sample_every: int
    save_every: int
    val_every: int
    patience: int
    val_tokens: np.ndarray | None
    tracker: ValidationTracker

    # The fields that are finetune's user settings, as named in run.json's "parameters".
    SETTINGS = (
        "batch_size",
        "accumulate_gradients",
        "learning_rate",
        "lr_schedule",
        "sample_every",
        "save_every",
        "val_every",
        "patience",
    )


def load_hparams(model_dir: Path):
    hparams = gpt2_model.default_hparams()
    hparams.override_from_dict(read_hparams(model_dir))
    return hparams


@contextlib.contextmanager
def samples_capped_at_context(n_ctx: int):
    """gpt2.finetune's batches are `Sampler.sample(1024)` whatever the model's context, and a model
    with a smaller n_ctx would index past its position table. Its Sampler is swapped, for this
    call only, for one that caps the window at n_ctx."""
    original = gpt_2.Sampler

    class ContextSampler(original):
        def sample(self, length):
            return super().sample(min(length, n_ctx))

    gpt_2.Sampler = ContextSampler
    try:
        yield
    finally:
        gpt_2.Sampler = original


class AdviceFilter(io.TextIOBase):
    """Passes gpt2.finetune's output through, minus its tuning advice for models not named 124M
    (memory-saving gradients etc.: not options of this command, whose defaults already follow
    the base's size) and minus its bare "interrupted" on every stop (see STOP_WORD)."""

    ADVICE = (
        "For larger models, the recommended",
        "\tuse_memory_saving",
        "\tonly_train_trans",
        "\taccumulate_gradients",
    )
    # gpt2.finetune's word for any stop it did not plan, budget and early stop included: the
    # stop's own line says why, and `finetune` says how to resume after a signal.
    STOP_WORD = "interrupted"

    def __init__(self, stream):
        self.stream, self.pending, self.dropped = stream, "", False

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line == self.STOP_WORD:
                continue
            advice = line.startswith(self.ADVICE)
            # The blank line that closes the advice goes with it.
            if not advice and not (self.dropped and not line):
                self.stream.write(line + "\n")
            self.dropped = advice
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


@contextlib.contextmanager
def working_directory(path: Path):
    """gpt2.finetune writes samples to ./samples/RUN: keep them inside the run's folder."""
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def steps_to_run(session: Session) -> int:
    """gpt2.finetune's `steps` counts from where it resumes; -1 trains until interrupted."""
    if session.total_steps is None:
        return -1
    steps = session.total_steps - session.first_step + 1
    assert steps > 0, "a finished run is not trained again"
    return steps


def train(session: Session, stop: StopControl) -> TrainingWatch:
    """Trains until total_steps, the time budget or a signal (`stop.reason` says which); a
    checkpoint of every completed step is saved in each case."""
    hparams = load_hparams(session.base_dir)
    tf.get_logger().setLevel("ERROR")  # TF's deprecation notes about gpt-2-simple's own calls
    watch = TrainingWatch(
        run_dir=session.run_dir,
        hparams=hparams,
        first_step=session.first_step,
        total_steps=session.total_steps,
        budget_s=session.budget_s,
        elapsed_before_s=session.elapsed_before_s,
        tokens_before=session.tokens_before,
        tokens_per_step=session.batch_size * session.accumulate_gradients * hparams.n_ctx,
        stop=stop,
        val_tokens=session.val_tokens,
        val_every=session.val_every,
        tracker=session.tracker,
        peak_rate=session.learning_rate,
        schedule=session.lr_schedule,
    )
    graph = tf.Graph()
    with graph.as_default():
        # Adam takes its rate from this tensor, which the watched session feeds every step.
        rate = tf.compat.v1.placeholder_with_default(
            np.float32(session.learning_rate), [], name="learning_rate"
        )
    with (
        graph.as_default(),
        WatchedSession(watch, graph=graph, rate_input=rate) as tf_session,
        samples_capped_at_context(hparams.n_ctx),
        working_directory(session.run_dir),
        contextlib.redirect_stdout(AdviceFilter(sys.stdout)),
    ):
        gpt_2.finetune(
            tf_session,
            dataset=str(session.tokens_npz),
            steps=steps_to_run(session),
            model_name=session.base_dir.name,
            model_dir=str(session.base_dir.parent),
            batch_size=session.batch_size,
            learning_rate=rate,
            accumulate_gradients=session.accumulate_gradients,
            restore_from="latest",
            run_name=session.run_dir.name,
            checkpoint_dir=str(session.run_dir.parent),
            sample_every=session.sample_every or NEVER,
            sample_length=min(SAMPLE_TOKENS, hparams.n_ctx),
            save_every=session.save_every,
            print_every=NEVER,
            max_checkpoints=1,
        )
    return watch
