"""The serving settings (core and HTTP layer), read once at start: defaults in code → GHOST_*
environment → test mapping."""

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

ENGINES = ("llama", "onnx", "tensorflow")
# KV cell types each engine takes, its default first. The ONNX engine's type is fixed by export
# (the graph's inputs): unset, it takes the model's; set, it must be the model's. TensorFlow's
# reference engine keeps float32 arrays and ignores the setting.
KV_TYPES = {"llama": ("q8_0", "f16"), "onnx": ("f16", "f32")}


@dataclass(frozen=True)
class Settings:
    models_dir: Path  # folder of model folders, one per served model
    default_model: str | None = None  # None: the first model by name
    engine: str = "onnx"  # the fastest on the open loop (README, Benchmarks); llama: least memory
    max_inflight: int = 64  # admission limit: sequences running + queued, all clients
    max_client_inflight: int = 16  # the same, per client (address); past it a 429
    max_slots: int = 32  # sequences the engine advances together, each step
    # KV cells of all slots together; llama.cpp gives each slot kv_tokens / max_slots of them
    # (a split cache: a seed's text then does not depend on its batch mates), so this also
    # sets the longest sequence served. 16384 q8_0 cells of GPT-2 124M: ~310 MB.
    kv_tokens: int = 16384
    kv_type: str = ""  # KV cell type (KV_TYPES); "": the engine's default
    prefill_chunk: int = 64  # prompt tokens per engine step, all prefilling sequences together
    threads: int = 0  # engine threads; 0: one per core this process may use
    max_queue_wait: float = 30.0  # seconds a request may wait for the engine before a 503
    max_request_s: float = 180.0  # seconds from arrival to the last token, queue included
    max_length: int = 512  # most new tokens one sample may ask for
    max_prefix_chars: int = 8000
    retry_after_s: int = 1  # what a 503 tells the client to wait
    stream_interval_ms: float = 50.0  # one stream's chunk interval (serving.pacing); 0: each token

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise ValueError(
                f"GHOST_ENGINE must be one of {', '.join(ENGINES)}, not {self.engine!r}"
            )
        at_least_one = (
            "max_inflight",
            "max_client_inflight",
            "max_slots",
            "kv_tokens",
            "prefill_chunk",
            "max_length",
            "max_prefix_chars",
        )
        for name in at_least_one:
            if getattr(self, name) < 1:
                raise ValueError(f"GHOST_{name.upper()} must be at least 1")
        allowed = KV_TYPES.get(self.engine)
        if allowed and self.kv_type and self.kv_type not in allowed:
            raise ValueError(
                f"GHOST_KV_TYPE for the {self.engine} engine must be one of "
                f"{', '.join(allowed)}, not {self.kv_type!r}"
            )
        if self.max_queue_wait <= 0 or self.max_request_s <= 0:
            raise ValueError("GHOST_MAX_QUEUE_WAIT and GHOST_MAX_REQUEST_S must be > 0")
        if self.threads < 0 or self.stream_interval_ms < 0:
            raise ValueError("GHOST_THREADS and GHOST_STREAM_INTERVAL_MS must be >= 0")

    @property
    def slot_tokens(self) -> int:
        """Tokens one llama.cpp slot holds (its split share of the KV cells)."""
        return self.kv_tokens // self.max_slots

    @property
    def engine_kv_type(self) -> str:
        """The KV cell type the engine is given: the setting, else llama's default; the ONNX
        engine takes "" as its model's type."""
        return self.kv_type or (KV_TYPES["llama"][0] if self.engine == "llama" else "")

    @property
    def engine_threads(self) -> int:
        return self.threads or len(os.sched_getaffinity(0))


def _default_models_dir() -> Path:
    return Path(os.environ.get("GHOST_DATA_DIR", "data")) / "serving"


def _convert(kind, raw: str, name: str):
    if kind not in (int, float, Path):
        return raw  # plain strings, and the optional default model name
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"GHOST_{name.upper()}={raw!r} is not a valid {kind.__name__}") from None


def from_environment(environ=os.environ) -> dict:
    """The settings given as GHOST_<NAME> variables, converted to their field's type."""
    values = {}
    for field in fields(Settings):
        raw = environ.get(f"GHOST_{field.name.upper()}")
        if raw is not None and raw != "":
            values[field.name] = _convert(field.type, raw, field.name)
    return values


def load(test_config=None) -> Settings:
    """Defaults → GHOST_* environment → `test_config` (keys are field names, any case)."""
    settings = Settings(models_dir=_default_models_dir())
    overrides = from_environment()
    overrides.update({key.lower(): value for key, value in (test_config or {}).items()})
    unknown = set(overrides) - {f.name for f in fields(Settings)}
    if unknown:
        raise ValueError(f"unknown API settings: {', '.join(sorted(unknown))}")
    if "models_dir" in overrides:
        overrides["models_dir"] = Path(overrides["models_dir"])
    return replace(settings, **overrides)
