"""Keeping the best checkpoint, warning of overfitting and stopping early: real tiny training.

The run trains the tiny base on three sentences repeated, at a high learning rate, and validates
on unrelated text: it memorises the sentences within a few steps, so the validation loss soon
rises while the training loss falls (measured: best at step 5, early stop at step 20).
"""

import json
from pathlib import Path

import pytest

from model import best_checkpoint, checkpoint_file, training_log, validation
from tests.fixtures.models import run_model_cli
from tests.model.test_finetune import SENTENCES

OVERFIT = [
    *("--learning-rate", "0.01"),
    *("--val-every", "5"),
    *("--sample-every", "0"),
]


def finetune(tiny_base, run: str, dataset: Path, *extra: str):
    args = ["finetune", "--base", tiny_base.name, "--dataset", str(dataset), "--run", run]
    args += ["--val", str(tiny_base.val_txt), *OVERFIT, *extra]
    result = run_model_cli(tiny_base.data_dir, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def sentences(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sentences") / "train.txt"
    path.write_text("\n".join(SENTENCES * 200) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def overfit(tiny_base, sentences):
    result = finetune(tiny_base, "overfit", sentences, "--steps", "200", "--patience", "3")
    run_dir = tiny_base.data_dir / "checkpoint" / "overfit"
    record = json.loads((run_dir / "run.json").read_text())
    return result, run_dir, record, training_log.read_metrics(run_dir)


@pytest.mark.timeout(240)
def test_the_lowest_validation_loss_is_kept_beside_the_latest(overfit):
    _, run_dir, record, rows = overfit
    validated = [row for row in rows if "val_loss" in row]
    lowest = min(validated, key=lambda row: row["val_loss"])
    assert record["best"] == {"step": lowest["step"], "val_loss": lowest["val_loss"]}
    assert [row["step"] for row in rows if row.get("best")][-1] == lowest["step"]
    best_dir = run_dir / best_checkpoint.FOLDER
    assert checkpoint_file.latest_step(best_dir) == lowest["step"]
    assert checkpoint_file.latest_step(run_dir) == record["step"] > lowest["step"]
    for name in best_checkpoint.MODEL_FILES:
        assert (best_dir / name).read_bytes() == (run_dir / name).read_bytes()


@pytest.mark.timeout(240)
def test_patience_stops_the_run_early(overfit):
    result, _, record, rows = overfit
    assert record["stop_reason"] == "early stop" and record["status"] == "completed"
    assert record["step"] < 200 and rows[-1]["step"] == record["step"]
    after_best = [r for r in rows if "val_loss" in r and r["step"] > record["best"]["step"]]
    assert len(after_best) == 3
    assert "early stop: no better validation loss in 3 validations" in result.stdout


@pytest.mark.timeout(240)
def test_rising_validation_with_falling_training_loss_is_warned_once_per_validation(overfit):
    result, _, record, rows = overfit
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning: step")]
    assert warnings and len(warnings) == len(record["overfitting_warnings"])
    assert record["overfitting_warnings"] == [row["step"] for row in rows if row.get("overfitting")]
    assert "validation loss rose" in warnings[0] and "training loss fell" in warnings[0]
    # gpt-2-simple's bare "interrupted" must not follow a planned stop.
    assert "interrupted" not in result.stdout


@pytest.mark.timeout(300)
def test_a_resumed_run_keeps_its_best_and_its_patience(tiny_base, sentences):
    finetune(tiny_base, "overfit-resume", sentences, "--steps", "10", "--patience", "0")
    run_dir = tiny_base.data_dir / "checkpoint" / "overfit-resume"
    first_best = best_checkpoint.read(run_dir)
    again = finetune(tiny_base, "overfit-resume", sentences, "--steps", "200", "--patience", "2")
    assert "resuming run overfit-resume from step 10" in again.stdout
    record = json.loads((run_dir / "run.json").read_text())
    rows = training_log.read_metrics(run_dir)
    validated = [row for row in rows if "val_loss" in row]
    assert [row["step"] for row in rows] == list(range(1, record["step"] + 1))
    assert record["best"]["val_loss"] == min(row["val_loss"] for row in validated)
    assert record["best"]["val_loss"] <= first_best["val_loss"]
    assert record["stop_reason"] == "early stop" and len(record["sessions"]) == 2


@pytest.mark.timeout(240)
def test_the_last_step_of_a_budget_is_validated(tiny_base, sentences):
    """Steps after the last periodic validation would otherwise never compete for the best."""
    budget = ["--minutes", "0.05", "--val-every", "1000"]
    result = finetune(tiny_base, "budget-val", sentences, *budget)
    run_dir = tiny_base.data_dir / "checkpoint" / "budget-val"
    rows = training_log.read_metrics(run_dir)
    assert "val_loss" in rows[-1] and all("val_loss" not in row for row in rows[:-1])
    assert best_checkpoint.read(run_dir)["step"] == rows[-1]["step"]
    assert "time budget of 0:03 spent" in result.stdout


@pytest.mark.timeout(240)
def test_export_serves_the_best_checkpoint_unless_asked_for_the_latest(
    overfit, tiny_base, tmp_path
):
    _, run_dir, record, _ = overfit
    for flags, step in [([], record["best"]["step"]), (["--checkpoint", "latest"], record["step"])]:
        out = tmp_path / f"serving-{step}"
        result = run_model_cli(
            tiny_base.data_dir, "export", "--run", "overfit", "--out", str(out), *flags
        )
        assert result.returncode == 0, result.stderr[-3000:]
        meta = json.loads((out / "meta.json").read_text())
        assert meta["step"] == step and meta["run"] == "overfit"
        assert meta["base"] == tiny_base.name
        assert f"(step {step}" in result.stdout


def test_selecting_a_checkpoint_says_which_and_why(tmp_path):
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "model-40"\n')
    (tmp_path / "model-40.index").write_bytes(b"")
    folder, why = best_checkpoint.select(tmp_path, "best")
    assert folder == tmp_path and "no best one" in why and "step 40" in why
    best = tmp_path / best_checkpoint.FOLDER
    best.mkdir()
    (best / best_checkpoint.RECORD).write_text('{"step": 15, "val_loss": 4.25}')
    folder, why = best_checkpoint.select(tmp_path, "best")
    assert folder == best and "step 15" in why and "4.250" in why and "latest is step 40" in why
    assert best_checkpoint.select(tmp_path, "latest")[0] == tmp_path
    assert best_checkpoint.run_folder_of(best) == tmp_path
    assert best_checkpoint.run_folder_of(tmp_path) == tmp_path


def test_tracker_keeps_the_best_warns_and_stops_after_patience():
    tracker = validation.ValidationTracker(patience=2)
    first = tracker.record(step=10, train_loss=5.0, val_loss=6.0)
    assert first.improved and not first.warning and not first.stop
    better = tracker.record(step=20, train_loss=4.0, val_loss=5.5)
    assert better.improved and not better.warning
    rose = tracker.record(step=30, train_loss=3.5, val_loss=5.8)
    assert not rose.improved and not rose.stop
    assert "5.500 → 5.800" in rose.warning and "4.000 → 3.500" in rose.warning
    assert "best checkpoint (step 20, 5.500)" in rose.warning
    both_rose = tracker.record(step=40, train_loss=3.9, val_loss=5.9)
    assert both_rose.warning is None and both_rose.stop
    assert "in 2 validations" in tracker.stop_message() and "step 20" in tracker.stop_message()


def test_a_rise_within_noise_of_the_best_is_not_called_overfitting():
    tracker = validation.ValidationTracker(patience=0)
    tracker.record(step=300, train_loss=4.056, val_loss=4.577)
    assert tracker.record(step=360, train_loss=3.820, val_loss=4.588).warning is None
    assert tracker.record(step=420, train_loss=3.700, val_loss=4.700).warning


def test_patience_zero_never_stops():
    tracker = validation.ValidationTracker(patience=0)
    tracker.record(step=1, train_loss=1.0, val_loss=1.0)
    assert not any(tracker.record(step=s, train_loss=1.0, val_loss=2.0).stop for s in range(2, 9))


def test_restore_continues_where_the_metrics_left_off():
    rows = [
        {"step": 1, "loss": 6.0},
        {"step": 2, "loss": 5.0, "val_loss": 5.5},
        {"step": 3, "loss": 4.0},
        {"step": 4, "loss": 3.0, "val_loss": 5.7},
        {"step": 5, "loss": 2.0},
    ]
    tracker = validation.restore(rows, patience=3, best={"step": 2, "val_loss": 5.5})
    assert (tracker.best_step, tracker.best_loss, tracker.since_best) == (2, 5.5, 1)
    assert tracker.last == (3.5, 5.7) and tracker.last_step == 4
    assert validation.restore([], patience=3, best=None).last is None
