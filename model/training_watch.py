"""Watching gpt2.finetune's training loop from outside it, without forking the library.

gpt2.finetune takes the session it trains in. A Session subclass sees every training step (the
run that fetches the `loss` summary, with the loss next to it): it times the step, records the
loss, runs validation, prints progress, and - when a signal came or the time budget is spent -
raises KeyboardInterrupt *before* the step runs. gpt2.finetune answers KeyboardInterrupt by saving
a checkpoint of the steps done so far and returning, so stopping never lands mid-save.

Each validation goes to a `validation.ValidationTracker`: a new lowest validation loss is saved as
the run's best checkpoint (`best_checkpoint`), overfitting gets a one-line warning, and `patience`
validations without a new best stop the run ("early stop") the same way a time budget does.
"""

import signal
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from gpt_2_simple.src import model as gpt2_model
from tensorflow.core.protobuf import rewriter_config_pb2

from model import best_checkpoint, lr_schedule, training_log
from model.token_data import windows
from model.validation import ValidationTracker

# Validation scores the whole validation text when it is at most this many tokens, else this many
# tokens of it in context windows spread evenly over it (the same windows every time). Chosen so a
# check costs a few seconds on 2 CPU cores for the demo's sizes; `model evaluate` scores all.
VAL_TOKENS = 32768
VAL_BATCH = 8
# Progress lines at most this often (and on validation steps); metrics.jsonl gets every step.
PRINT_SECONDS = 5.0


class StopControl:
    """The first SIGINT/SIGTERM asks for a stop at the next step boundary (checkpoint saved);
    a second one interrupts at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.reason: str | None = None
        self._previous = {}

    def __enter__(self):
        for number in self.SIGNALS:
            self._previous[number] = signal.signal(number, self._on_signal)
        return self

    def __exit__(self, *exc):
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _on_signal(self, number, frame):
        if self.reason is not None:
            raise KeyboardInterrupt
        self.reason = signal.Signals(number).name
        print(f"\n{self.reason}: saving a checkpoint after this step…", flush=True)


class TrainingWatch:
    """Step accounting for one training session; `step` is the last completed step, `total_steps`
    None when only the time budget bounds the run."""

    def __init__(
        self,
        *,
        run_dir: Path,
        hparams,
        first_step: int,
        total_steps: int,
        budget_s: float | None,
        elapsed_before_s: float,
        tokens_before: int,
        tokens_per_step: int,
        stop: StopControl,
        val_tokens=None,
        val_every: int = 0,
        tracker: ValidationTracker | None = None,
        peak_rate: float = 0.0,
        schedule: str = "constant",
    ):
        self.run_dir, self.hparams, self.stop = run_dir, hparams, stop
        self.step, self.total_steps = first_step - 1, total_steps
        self.budget_s, self.elapsed_before_s = budget_s, elapsed_before_s
        self.tokens_per_step, self.val_every = tokens_per_step, val_every
        self.val_batches = _val_batches(val_tokens, n_ctx=hparams.n_ctx) if val_every else []
        self.tracker = tracker or ValidationTracker(patience=0)
        self._val_fetches = self._best_saver = None
        self._started = self._last_end = self._last_print = None
        self._seconds_per_step = None
        self.tokens_trained = tokens_before
        self.peak_rate, self.schedule = peak_rate, schedule
        self.rate = peak_rate  # of the step about to run

    def next_rate(self) -> float:
        run_progress = lr_schedule.progress(
            step=self.step,
            total_steps=self.total_steps,
            elapsed_s=self.elapsed_s(),
            budget_s=self.budget_s,
        )
        return lr_schedule.learning_rate(self.peak_rate, self.schedule, run_progress)

    def elapsed_s(self) -> float:
        ran = 0.0 if self._started is None else time.monotonic() - self._started
        return self.elapsed_before_s + ran

    def before_step(self) -> None:
        self._check_budget()
        if self.stop.reason is not None:
            raise KeyboardInterrupt
        if self._started is None:
            self._started = self._last_end = time.monotonic()
        self.rate = self.next_rate()

    def after_step(self, session, loss: float) -> None:
        now = time.monotonic()
        seconds = now - self._last_end
        self.step += 1
        self.tokens_trained += self.tokens_per_step
        rate = seconds if self._seconds_per_step is None else self._seconds_per_step
        self._seconds_per_step = 0.9 * rate + 0.1 * seconds
        row = {
            "step": self.step,
            "loss": round(float(loss), 5),
            "tokens": self.tokens_trained,
            "tokens_per_s": round(self.tokens_per_step / max(seconds, 1e-9), 1),
            "elapsed_s": round(self.elapsed_s(), 3),
            "learning_rate": float(f"{self.rate:.4g}"),
        }
        self._check_budget()
        # The last step is validated too: its weights may be the best, and export serves the best.
        last = self.stop.reason == "time budget" or self.step == self.total_steps
        if self.val_batches and (self.step % self.val_every == 0 or last):
            row["val_loss"] = round(self.val_loss(session), 5)
            self._judge(session, row)
        training_log.append_metric(self.run_dir, row)
        self._maybe_print(row, force="val_loss" in row or self.step == self.total_steps)
        self._last_end = time.monotonic()

    def _check_budget(self) -> None:
        out_of_time = self.budget_s is not None and self.elapsed_s() >= self.budget_s
        if self.stop.reason is None and out_of_time:
            self.stop.reason = "time budget"
            budget = training_log.format_duration(self.budget_s)
            print(f"time budget of {budget} spent: saving a checkpoint…", flush=True)

    def _judge(self, session, row: dict) -> None:
        """Acts on a validation: saves a new best, warns of overfitting, stops after patience."""
        before = self.tracker.last_step
        rows = training_log.read_metrics(self.run_dir) + [row]
        losses = [r["loss"] for r in rows if r["step"] > before]
        verdict = self.tracker.record(
            step=self.step, train_loss=sum(losses) / len(losses), val_loss=row["val_loss"]
        )
        if verdict.improved:
            best_checkpoint.save(
                session,
                self.best_saver(session),
                self.run_dir,
                step=self.step,
                val_loss=row["val_loss"],
            )
            row["best"] = True
        if verdict.warning:
            row["overfitting"] = True
            print(verdict.warning, flush=True)
        if verdict.stop and self.stop.reason is None:
            self.stop.reason = "early stop"
            print(self.tracker.stop_message() + ": saving a checkpoint…", flush=True)

    def best_saver(self, session):
        """A saver of the model's weights, as gpt2.finetune's own saver picks them."""
        if self._best_saver is None:
            with session.graph.as_default():
                weights = [v for v in tf.compat.v1.trainable_variables() if "model" in v.name]
                self._best_saver = tf.compat.v1.train.Saver(
                    var_list=weights, max_to_keep=1, save_relative_paths=True
                )
        return self._best_saver

    def _maybe_print(self, row: dict, *, force: bool) -> None:
        now = time.monotonic()
        if not force and self._last_print is not None and now - self._last_print < PRINT_SECONDS:
            return
        self._last_print = now
        eta = training_log.eta_seconds(
            step=self.step,
            total_steps=self.total_steps,
            seconds_per_step=self._seconds_per_step,
            elapsed_s=row["elapsed_s"],
            budget_s=self.budget_s,
        )
        print(training_log.progress_line(row, total_steps=self.total_steps, eta_s=eta), flush=True)

    def val_loss(self, session) -> float:
        """Mean next-token NLL over the validation windows, with the weights being trained."""
        if self._val_fetches is None:
            with session.graph.as_default():
                tokens = tf.compat.v1.placeholder(tf.int32, [None, None])
                logits = gpt2_model.model(hparams=self.hparams, X=tokens, reuse=True)["logits"]
                nll = tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=tokens[:, 1:], logits=logits[:, :-1]
                )
                self._val_fetches = (tokens, tf.reduce_sum(nll), tf.size(nll))
        tokens, total, count = self._val_fetches
        sums = [session.run((total, count), feed_dict={tokens: b}) for b in self.val_batches]
        return float(sum(s for s, _ in sums) / sum(c for _, c in sums))


def _val_batches(val_tokens, *, n_ctx: int) -> list[np.ndarray]:
    """Batches of the validation text's context windows: all of them (the last, shorter one in a
    batch of its own) when they hold at most VAL_TOKENS, else that many tokens' worth of full
    windows spread evenly over it."""
    every = windows(val_tokens, n_ctx=n_ctx)
    full = [w for w in every if len(w) == n_ctx]
    count = max(1, VAL_TOKENS // n_ctx)
    if len(every) <= count:
        rest = [np.asarray([w], dtype=np.int32) for w in every if 1 < len(w) < n_ctx]
        chosen = np.asarray(full, dtype=np.int32).reshape(len(full), n_ctx)
    else:
        picks = np.unique(np.linspace(0, len(full) - 1, num=count).astype(int))
        rest, chosen = [], np.asarray([full[i] for i in picks], dtype=np.int32)
    batches = [chosen[i : i + VAL_BATCH] for i in range(0, len(chosen), VAL_BATCH)]
    return batches + rest


def session_config():
    """gpt2.start_tf_sess's settings: grow GPU memory on demand, no layout optimizer."""
    config = tf.compat.v1.ConfigProto()
    config.gpu_options.allow_growth = True
    config.graph_options.rewrite_options.layout_optimizer = rewriter_config_pb2.RewriterConfig.OFF
    return config


class WatchedSession(tf.compat.v1.Session):
    """Feeds each training step its learning rate (`rate_input`, the optimizer's rate tensor)."""

    def __init__(self, watch: TrainingWatch, *, graph, rate_input):
        super().__init__(graph=graph, config=session_config())
        self.watch, self.rate_input = watch, rate_input

    def _is_training_step(self, fetches) -> bool:
        if not isinstance(fetches, tuple | list) or len(fetches) < 2:
            return False
        summaries = self.graph.get_collection(tf.compat.v1.GraphKeys.SUMMARIES)
        return getattr(fetches[-1], "name", None) in {s.name for s in summaries}

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        if not self._is_training_step(fetches):
            return super().run(fetches, feed_dict, options, run_metadata)
        self.watch.before_step()
        feed_dict = {**(feed_dict or {}), self.rate_input: self.watch.rate}
        results = super().run(fetches, feed_dict, options, run_metadata)
        self.watch.after_step(self, results[-2])
        return results
