"""`python -m model finetune`: real gpt-2-simple training of the tiny base model, watched."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from model import finetune, training_log
from model.__main__ import main as model_main
from tests.fixtures.models import REPO_ROOT, TinyBase, run_model_cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SENTENCES = [
    "The lighthouse keeper counted seven paper lanterns at dawn.",
    "Mara carried the blue umbrella to the night market.",
    "Two crows followed the last train along the coast.",
]


@dataclass(frozen=True)
class Finished:
    """A finetune invocation and what it left on disk, read right after it ended."""

    result: subprocess.CompletedProcess
    run_dir: Path
    record: dict
    metrics: list[dict]


def finetune_cli(tiny_base, run: str, dataset: Path, *extra: str) -> Finished:
    args = ["finetune", "--base", tiny_base.name, "--dataset", str(dataset), "--run", run]
    result = run_model_cli(tiny_base.data_dir, *args, *extra)
    run_dir = tiny_base.data_dir / "checkpoint" / run
    record = json.loads((run_dir / "run.json").read_text()) if result.returncode == 0 else {}
    return Finished(result, run_dir, record, training_log.read_metrics(run_dir))


def latest_checkpoint_name(run_dir: Path) -> str:
    first = (run_dir / "checkpoint").read_text().splitlines()[0]
    return Path(first.partition(":")[2].strip().strip('"')).name


@pytest.fixture(scope="module")
def repetitive(tmp_path_factory) -> tuple[Path, Path]:
    """A corpus that says the same three sentences over and over: a model can learn it fast."""
    folder = tmp_path_factory.mktemp("repetitive")
    text = "\n".join(SENTENCES * 200) + "\n"
    (folder / "train.txt").write_text(text, encoding="utf-8")
    (folder / "val.txt").write_text("\n".join(SENTENCES[::-1] * 20) + "\n", encoding="utf-8")
    return folder / "train.txt", folder / "val.txt"


@pytest.fixture(scope="module")
def learned(tiny_base, repetitive) -> Finished:
    train, val = repetitive
    extra = ["--steps", "40", "--val", str(val), "--val-every", "20", "--save-every", "20"]
    return finetune_cli(tiny_base, "ft-learn", train, *extra, "--sample-every", "30")


@pytest.fixture(scope="module")
def budgeted(tiny_base, repetitive) -> Finished:
    return finetune_cli(tiny_base, "ft-budget", repetitive[0], "--minutes", "0.04")


@pytest.mark.timeout(180)
def test_finetune_lowers_the_training_loss_on_a_repetitive_corpus(learned):
    assert learned.result.returncode == 0, learned.result.stderr[-3000:]
    losses = [row["loss"] for row in learned.metrics]
    assert [row["step"] for row in learned.metrics] == list(range(1, 41))
    # Random weights over 512 ids start near ln(512) = 6.2 nats per token.
    assert losses[0] > 5.5
    assert np.mean(losses[-5:]) < losses[0] - 2.0
    val = [(row["step"], row["val_loss"]) for row in learned.metrics if "val_loss" in row]
    assert [step for step, _ in val] == [20, 40]
    assert val[1][1] < val[0][1] < losses[0]


@pytest.mark.timeout(180)
def test_finetune_records_the_run(learned, repetitive):
    run_dir, record = learned.run_dir, learned.record
    assert learned.result.returncode == 0, learned.result.stderr[-3000:]
    assert record["base"] == "tiny" and record["run"] == "ft-learn"
    assert record["base_hparams"]["n_ctx"] == 128
    sha = hashlib.sha256(repetitive[0].read_bytes()).hexdigest()
    assert record["dataset"]["sha256"] == sha and record["dataset"]["tokens"] > 128
    assert record["val"]["sha256"] == hashlib.sha256(repetitive[1].read_bytes()).hexdigest()
    assert record["parameters"] == {
        "steps": 40,
        "minutes": None,
        "batch_size": 4,
        "accumulate_gradients": 1,
        "learning_rate": 2e-3,
        "lr_schedule": "cosine",
        "sample_every": 30,
        "save_every": 20,
        "val_every": 20,
        "patience": 5,
    }
    assert {"python", "tensorflow", "gpt-2-simple", "numpy"} <= record["versions"].keys()
    assert record["versions"]["gpt-2-simple"] == "0.8.1"
    assert (record["status"], record["stop_reason"], record["step"]) == ("completed", "steps", 40)
    assert record["tokens_trained"] == 40 * 4 * 128 == learned.metrics[-1]["tokens"]
    for row in learned.metrics:
        assert row["tokens_per_s"] > 0 and row["elapsed_s"] > 0
    # The default schedule over 40 steps: 2 warm-up steps from a tenth of the rate, the peak,
    # then a decay towards a tenth at step 40.
    rates = [row["learning_rate"] for row in learned.metrics]
    assert rates[0] == pytest.approx(2e-4) and rates[2] == pytest.approx(2e-3)
    assert rates[2:] == sorted(rates[2:], reverse=True) and rates[-1] < 2.4e-4
    assert (run_dir / "loss.png").read_bytes().startswith(PNG_SIGNATURE)
    # gpt-2-simple's own files: one checkpoint (older ones pruned), its counter, samples, events.
    assert latest_checkpoint_name(run_dir) == "model-40"
    assert sorted(p.name for p in run_dir.glob("model-*.index")) == ["model-40.index"]
    assert (run_dir / "counter").read_text().strip() == "40"
    assert (run_dir / "samples" / "ft-learn" / "samples-31").is_file()
    assert list(run_dir.glob("events.out.tfevents.*"))
    assert not list(run_dir.glob(".tokens-*")), "temporary token files are cleaned up"


def test_finetune_shows_progress_with_an_eta(learned):
    out = learned.result.stdout
    lines = [line for line in out.splitlines() if line.startswith("step ")]
    assert lines[0].startswith("step 1/40 | loss ") and " tok/s | elapsed " in lines[0]
    assert all(" | ETA " in line for line in lines)
    assert any(line.startswith("step 20/40") and " | val " in line for line in lines)
    assert "For larger models" not in out, "gpt-2-simple's advice names no option of ours"
    assert "it/s]" not in learned.result.stderr, "gpt-2-simple's dataset-loading bar"
    assert "step 40 (steps)" in out


def tensorboard_losses(run_dir: Path) -> dict[int, float]:
    import tensorflow as tf

    losses = {}
    for path in run_dir.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                losses[event.step] = value.simple_value
    return losses


def test_tensorboard_events_carry_the_same_losses(learned):
    events = tensorboard_losses(learned.run_dir)
    assert sorted(events) == list(range(1, 41))
    for row in learned.metrics:
        assert float(events[row["step"]]) == pytest.approx(row["loss"], abs=1e-4)


def read_until_progress(process: subprocess.Popen) -> list[str]:
    """stdout lines up to the first progress line (training has started)."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("step "):
            return lines
    raise AssertionError("finetune ended before training:\n" + "".join(lines))


@pytest.mark.timeout(240)
def test_sigterm_saves_a_loadable_checkpoint_and_a_rerun_continues(tiny_base, repetitive):
    import tensorflow as tf

    env = {**os.environ, "GHOST_DATA_DIR": str(tiny_base.data_dir), "PYTHONUNBUFFERED": "1"}
    args = ["--base", "tiny", "--dataset", str(repetitive[0]), "--run", "ft-sigterm"]
    command = [sys.executable, "-m", "model", "finetune", *args, "--steps", "100000"]
    with subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        read_until_progress(process)
        process.send_signal(signal.SIGTERM)
        rest = process.stdout.read()
        assert process.wait(timeout=60) == 128 + signal.SIGTERM
    assert "SIGTERM: saving a checkpoint" in rest and "rerun the same command" in rest

    run_dir = tiny_base.data_dir / "checkpoint" / "ft-sigterm"
    record = json.loads((run_dir / "run.json").read_text())
    step = record["step"]
    assert (record["status"], record["stop_reason"]) == ("interrupted", "SIGTERM")
    assert 1 <= step < 100000 and latest_checkpoint_name(run_dir) == f"model-{step}"
    reader = tf.train.load_checkpoint(str(run_dir / f"model-{step}"))
    base = tf.train.load_checkpoint(str(tiny_base.path / "model.ckpt"))
    names = set(base.get_variable_to_shape_map())
    assert names == set(reader.get_variable_to_shape_map())
    trained = reader.get_tensor("model/wte")
    assert np.isfinite(trained).all() and not np.allclose(trained, base.get_tensor("model/wte"))

    # Settings may change on resume: here batches are accumulated two per update.
    flags = ["--steps", str(step + 3), "--accumulate-gradients", "2"]
    resumed = finetune_cli(tiny_base, "ft-sigterm", repetitive[0], *flags)
    assert resumed.result.returncode == 0, resumed.result.stderr[-3000:]
    assert f"resuming run ft-sigterm from step {step}" in resumed.result.stdout
    assert f"Loading checkpoint {run_dir / f'model-{step}'}" in resumed.result.stdout
    assert [row["step"] for row in resumed.metrics] == list(range(1, step + 4))
    sessions = [
        (s["from_step"], s["to_step"], s["stop_reason"]) for s in resumed.record["sessions"]
    ]
    assert sessions == [(0, step, "SIGTERM"), (step, step + 3, "steps")]
    assert sorted(p.name for p in run_dir.glob("model-*.index")) == [f"model-{step + 3}.index"]
    tokens = [row["tokens"] for row in resumed.metrics]
    assert np.diff(tokens).tolist() == [4 * 128] * (step - 1) + [2 * 4 * 128] * 3
    assert resumed.record["parameters"]["accumulate_gradients"] == 2
    elapsed = [row["elapsed_s"] for row in resumed.metrics]
    assert elapsed == sorted(elapsed), "training time adds up across sessions"


@pytest.mark.timeout(180)
def test_minutes_stop_training_on_the_time_budget(budgeted, tiny_base, repetitive):
    assert budgeted.result.returncode == 0, budgeted.result.stderr[-3000:]
    record = budgeted.record
    assert (record["status"], record["stop_reason"]) == ("completed", "time budget")
    assert record["parameters"]["minutes"] == 0.04 and record["parameters"]["steps"] is None
    assert "time budget of 0:02 spent" in budgeted.result.stdout
    assert "interrupted" not in budgeted.result.stdout  # a spent budget is no failure
    # The budget is checked before every step; the last step may end just past it.
    assert 2.4 <= budgeted.metrics[-1]["elapsed_s"] < 2.4 + 10
    # At least one step: a loaded machine may take longer than the whole budget for one.
    assert record["step"] == budgeted.metrics[-1]["step"] >= 1

    again = finetune_cli(tiny_base, "ft-budget", repetitive[0], "--minutes", "0.04")
    assert again.result.returncode == 0
    assert "run ft-budget is complete" in again.result.stdout
    assert again.record["step"] == record["step"]


@pytest.mark.timeout(180)
def test_refuses_to_overwrite_another_run_unless_asked(budgeted, tiny_base):
    run_dir = budgeted.run_dir
    before = (run_dir / "checkpoint").read_text()
    other = finetune_cli(tiny_base, "ft-budget", tiny_base.train_txt, "--steps", "2")
    assert other.result.returncode == 2
    assert other.result.stderr.count("\n") == 1
    assert other.result.stderr.startswith("error: run 'ft-budget' was trained from base 'tiny'")
    assert "--overwrite" in other.result.stderr
    assert (run_dir / "checkpoint").read_text() == before

    replaced = finetune_cli(
        tiny_base, "ft-budget", tiny_base.train_txt, "--steps", "2", "--overwrite"
    )
    assert replaced.result.returncode == 0, replaced.result.stderr[-3000:]
    assert replaced.record["dataset"]["path"] == str(tiny_base.train_txt.resolve())
    assert [row["step"] for row in replaced.metrics] == [1, 2]
    assert len(replaced.record["sessions"]) == 1 and latest_checkpoint_name(run_dir) == "model-2"


def short_text(folder: Path) -> Path:
    (folder / "short.txt").write_text("Mara found a brass key.\n", encoding="utf-8")
    return folder / "short.txt"


def empty_text(folder: Path) -> Path:
    (folder / "empty.txt").write_text("  \n", encoding="utf-8")
    return folder / "empty.txt"


def latin1_text(folder: Path) -> Path:
    (folder / "latin1.txt").write_bytes("café ".encode("latin-1") * 400)
    return folder / "latin1.txt"


BAD_INPUT = [
    (["--base", "nope"], "no base model 'nope'", None),
    (["--dataset", "missing.txt"], "missing.txt not found", None),
    ([], "not more than the model's context of 128", short_text),
    ([], "is empty", empty_text),
    ([], "is not UTF-8", latin1_text),
    (["--run", "../escape"], "run name '../escape' must be", None),
    (["--steps", "0"], "--steps must be positive", None),
    (["--batch-size", "-1"], "--batch-size must be positive", None),
    (["--learning-rate", "0"], "--learning-rate must be positive", None),
    (["--minutes", "0"], "--minutes must be a positive number", None),
    (["--sample-every", "-5"], "--sample-every must be 0 (never) or more", None),
]


@pytest.mark.parametrize(("flags", "message", "make_dataset"), BAD_INPUT)
def test_bad_input_is_one_line_naming_the_fix(
    flags, message, make_dataset, tiny_base, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("GHOST_DATA_DIR", str(tiny_base.data_dir))
    monkeypatch.chdir(tmp_path)
    dataset = make_dataset(tmp_path) if make_dataset else tiny_base.train_txt
    base = ["finetune", "--base", "tiny", "--dataset", str(dataset), "--run", "ft-bad"]
    assert model_main([*base, *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (tiny_base.data_dir / "checkpoint" / "ft-bad").exists()


def test_short_val_file_is_refused(tiny_base, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GHOST_DATA_DIR", str(tiny_base.data_dir))
    args = ["finetune", "--base", "tiny", "--dataset", str(tiny_base.train_txt), "--run", "ft-bad"]
    assert model_main([*args, "--val", str(short_text(tmp_path))]) == 2
    assert "--val file" in capsys.readouterr().err


def settings_for(n_embd: int, **flags) -> dict:
    names = ["steps", "minutes", "batch_size", "accumulate_gradients", "learning_rate"]
    names += ["lr_schedule", "sample_every", "save_every", "val_every", "patience"]
    args = Namespace(**{name: None for name in names}, val=Path("val.txt"))
    vars(args).update(flags)
    return finetune.resolve_settings(args, {"n_embd": n_embd})


def test_defaults_follow_the_base_models_size():
    demo, gpt2 = settings_for(256), settings_for(768)
    assert (demo["batch_size"], demo["accumulate_gradients"], demo["learning_rate"]) == (4, 1, 2e-3)
    assert (gpt2["batch_size"], gpt2["accumulate_gradients"], gpt2["learning_rate"]) == (2, 4, 1e-4)
    assert (demo["lr_schedule"], gpt2["lr_schedule"]) == ("cosine", "constant")
    assert settings_for(256, minutes=5.0)["steps"] is None, "a time budget alone has no step cap"
    assert settings_for(256, minutes=5.0, steps=10)["steps"] == 10
    assert settings_for(256, batch_size=3)["batch_size"] == 3


@pytest.mark.parametrize(
    ("step", "total", "elapsed", "budget", "expected"),
    [
        (10, 110, 5.0, None, 50.0),  # 100 steps left at 0.5 s
        (10, 110, 5.0, 20.0, 15.0),  # the budget ends first
        (10, None, 5.0, 20.0, 15.0),  # a budget alone
        (110, 110, 55.0, None, 0.0),
        (10, 110, 25.0, 20.0, 0.0),  # overspent: never negative
    ],
)
def test_eta_is_the_first_stop_condition(step, total, elapsed, budget, expected):
    eta = training_log.eta_seconds(
        step=step, total_steps=total, seconds_per_step=0.5, elapsed_s=elapsed, budget_s=budget
    )
    assert eta == pytest.approx(expected)


def test_progress_line_and_durations():
    row = {"step": 7, "loss": 3.14159, "val_loss": 3.5, "tokens_per_s": 12345.6, "elapsed_s": 75}
    line = training_log.progress_line(row, total_steps=100, eta_s=3725)
    assert line == "step 7/100 | loss 3.142 | val 3.500 | 12,346 tok/s | elapsed 1:15 | ETA 1:02:05"
    assert training_log.progress_line(row, total_steps=None, eta_s=0).startswith("step 7 | loss")
    assert training_log.smoothed([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])


def test_metrics_after_the_last_checkpoint_are_dropped_on_resume(tmp_path):
    for step in range(1, 6):
        training_log.append_metric(tmp_path, {"step": step, "loss": 1.0})
    with (tmp_path / "metrics.jsonl").open("a") as out:
        out.write('{"step": 6, "lo')  # a crash mid-line
    assert [row["step"] for row in training_log.read_metrics(tmp_path)] == [1, 2, 3, 4, 5]
    assert [row["step"] for row in training_log.keep_metrics_before(tmp_path, 3)] == [1, 2, 3]
    assert [row["step"] for row in training_log.read_metrics(tmp_path)] == [1, 2, 3]


def test_first_signal_asks_for_a_stop_and_a_second_interrupts_at_once(capsys):
    from model.training_watch import StopControl

    before = signal.getsignal(signal.SIGTERM)
    with StopControl() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.reason == "SIGINT"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before
    assert "SIGINT: saving a checkpoint after this step" in capsys.readouterr().out


def test_advice_filter_drops_only_gpt_2_simples_tuning_advice():
    import io

    from model.training import AdviceFilter

    out = io.StringIO()
    advice = AdviceFilter(out)
    print("For larger models, the recommended finetune() parameters are:", file=advice)
    print("\tuse_memory_saving_gradients = True", file=advice)
    print("\tonly_train_transformer_layers = True", file=advice)
    print("\taccumulate_gradients = 1\n", file=advice)
    print("Loading checkpoint x", file=advice)
    print("", file=advice)
    print("dataset has 5 tokens", file=advice)
    print("interrupted", file=advice)  # gpt-2-simple's word for every stop, planned ones too
    print("interrupted: rerun to resume", file=advice)
    assert out.getvalue() == (
        "Loading checkpoint x\n\ndataset has 5 tokens\ninterrupted: rerun to resume\n"
    )


def test_a_run_being_trained_elsewhere_is_refused(tiny_base, monkeypatch, capsys):
    import fcntl

    monkeypatch.setenv("GHOST_DATA_DIR", str(tiny_base.data_dir))
    lock_path = tiny_base.data_dir / "checkpoint" / ".ft-busy.lock"
    lock_path.parent.mkdir(exist_ok=True)
    with lock_path.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # what a running finetune of ft-busy holds
        args = ["--base", "tiny", "--dataset", str(tiny_base.train_txt), "--run", "ft-busy"]
        assert model_main(["finetune", *args]) == 2
    err = capsys.readouterr().err
    assert "run 'ft-busy' is being trained by another process" in err
    assert not (tiny_base.data_dir / "checkpoint" / "ft-busy").exists()


@pytest.mark.timeout(180)
def test_a_run_folder_moved_elsewhere_resumes_from_its_own_weights(
    learned, tiny_base, repetitive, tmp_path
):
    assert (learned.run_dir / "checkpoint").read_text() == (
        'model_checkpoint_path: "model-40"\nall_model_checkpoint_paths: "model-40"\n'
    ), "paths relative to the folder"
    moved_run = tmp_path / "checkpoint" / "ft-learn"
    shutil.copytree(tiny_base.path, tmp_path / "models" / "tiny")
    shutil.copytree(learned.run_dir, moved_run)
    elsewhere = TinyBase(tmp_path, "tiny", tmp_path / "models" / "tiny", tmp_path)
    resumed = finetune_cli(elsewhere, "ft-learn", repetitive[0], "--steps", "42")
    assert resumed.result.returncode == 0, resumed.result.stderr[-3000:]
    assert f"Loading checkpoint {moved_run / 'model-40'}" in resumed.result.stdout
    assert [row["step"] for row in resumed.metrics] == list(range(1, 43))
    assert resumed.metrics[40]["loss"] < learned.metrics[0]["loss"] - 2
