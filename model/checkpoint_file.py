"""The latest checkpoint of a model folder, read without TensorFlow (the format: `contracts`)."""

from pathlib import Path

from contracts import checkpoint_prefix, checkpoint_step

# A model folder's weights prefix; the CLI reports a folder without one as a usage error.
latest_prefix = checkpoint_prefix


def latest_step(model_dir: Path) -> int:
    """The training step of the latest checkpoint: STEP of model-STEP, 0 for a base model."""
    return checkpoint_step(checkpoint_prefix(model_dir))
