"""Engines: `load(settings, folder)` picks the configured one, importing only its module.

Each engine's module imports its runtime (llama-cpp-python, TensorFlow) and is imported only when
that engine is chosen: the serving install has no TensorFlow and never touches it.
"""

from pathlib import Path

from api.config import Settings
from api.engines.base import Engine, Feed
from contracts import CHECKPOINT_INDEX, HPARAMS

LLAMA_MODEL_FILE = "model.gguf"  # api.engines.llama_engine.MODEL_FILE, without importing llama_cpp


def is_model_folder(engine: str, folder: Path) -> bool:
    """Whether `folder` holds a model this engine serves: an export, or a gpt-2-simple folder."""
    if engine == "tensorflow":
        return (folder / HPARAMS).is_file() and (folder / CHECKPOINT_INDEX).is_file()
    return (folder / LLAMA_MODEL_FILE).is_file() and (folder / "encoder.json").is_file()


def load(settings: Settings, folder: Path) -> Engine:
    if settings.engine == "tensorflow":
        from api.engines.tensorflow_engine import TensorFlowEngine

        return TensorFlowEngine(folder, max_slots=settings.max_slots, kv_tokens=settings.kv_tokens)
    from api.engines.llama_engine import LlamaEngine

    return LlamaEngine(
        folder,
        max_slots=settings.max_slots,
        kv_tokens=settings.kv_tokens,
        kv_type=settings.kv_type,
        threads=settings.engine_threads,
    )


__all__ = ["Engine", "Feed", "is_model_folder", "load"]
