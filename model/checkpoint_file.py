"""Reads TensorFlow's `checkpoint` file without TensorFlow: which model-STEP is the latest.

gpt-2-simple's saver writes absolute paths into it; only the file name is used here, so a run
folder that was copied or moved still finds its weights.
"""

from pathlib import Path

from model.errors import UsageError


def latest_prefix(model_dir: Path) -> Path:
    """`model_dir/model-STEP` (a run) or `model_dir/model.ckpt` (a base): the files' prefix."""
    for line in (Path(model_dir) / "checkpoint").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model_checkpoint_path":
            prefix = Path(model_dir) / Path(value.strip().strip('"')).name
            if not prefix.with_name(prefix.name + ".index").is_file():
                raise UsageError(f"{model_dir}/checkpoint names {prefix.name}, which is missing")
            return prefix
    raise UsageError(f"{model_dir}/checkpoint names no model_checkpoint_path; re-save the model")


def latest_step(model_dir: Path) -> int:
    """The training step of the latest checkpoint: STEP of model-STEP, 0 for a base model."""
    name = latest_prefix(model_dir).name
    _, _, step = name.rpartition("-")
    return int(step) if name.startswith("model-") and step.isdigit() else 0
