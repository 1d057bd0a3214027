"""Engines: `load(settings, folder)` picks the configured one, importing only its module.

Each engine's module imports its runtime (llama-cpp-python, ONNX Runtime, TensorFlow) and is
imported only when that engine is chosen: the serving install has no TensorFlow and never
touches it.
"""

from pathlib import Path

from contracts import CHECKPOINT_INDEX, ENCODER, GGUF_MODEL, HPARAMS, ONNX_MODEL
from serving.config import Settings
from serving.engines.base import Engine, Feed


def is_model_folder(engine: str, folder: Path) -> bool:
    """Whether `folder` holds a model this engine serves: an export, or a gpt-2-simple folder."""
    if engine == "tensorflow":
        return (folder / HPARAMS).is_file() and (folder / CHECKPOINT_INDEX).is_file()
    model_file = ONNX_MODEL if engine == "onnx" else GGUF_MODEL
    return (folder / model_file).is_file() and (folder / ENCODER).is_file()


def load(settings: Settings, folder: Path) -> Engine:
    if settings.engine == "tensorflow":
        from serving.engines.tensorflow_engine import TensorFlowEngine

        return TensorFlowEngine(folder, max_slots=settings.max_slots, kv_tokens=settings.kv_tokens)
    shared = {
        "max_slots": settings.max_slots,
        "kv_tokens": settings.kv_tokens,
        "threads": settings.engine_threads,
    }
    if settings.engine == "onnx":
        from serving.engines.onnx_engine import OnnxEngine

        return OnnxEngine(folder, kv_type=settings.kv_type, **shared)
    from serving.engines.llama_engine import LlamaEngine

    return LlamaEngine(folder, kv_type=settings.engine_kv_type, **shared)


__all__ = ["Engine", "Feed", "is_model_folder", "load"]
