"""Engines: `load(settings, folder)` picks the configured one, importing only its module.

The TensorFlow engine's module imports TensorFlow; it is imported only when that engine is
chosen, so the serving install (no TensorFlow) never touches it.
"""

from pathlib import Path

from api.config import Settings
from api.engines.base import Engine


def is_model_folder(engine: str, folder: Path) -> bool:
    """Whether `folder` holds a model this engine serves: an export, or a gpt-2-simple folder."""
    if engine == "tensorflow":
        return (folder / "hparams.json").is_file() and (folder / "checkpoint").is_file()
    return (folder / "model.bin").is_file() and (folder / "encoder.json").is_file()


def load(settings: Settings, folder: Path) -> Engine:
    if settings.engine == "tensorflow":
        from api.engines.tensorflow_engine import TensorFlowEngine

        return TensorFlowEngine(folder)
    from api.engines.ctranslate2_engine import CTranslate2Engine

    return CTranslate2Engine(
        folder,
        compute_type=settings.compute_type,
        inter_threads=settings.inter_threads,
        intra_threads=settings.intra_threads,
    )


__all__ = ["Engine", "is_model_folder", "load"]
