"""The served models: found at start, loaded once per worker process in the background, warmed up.

Loading starts as soon as a worker has its app (api/wsgi.py calls `start_loading`; uWSGI's lazy-apps
creates the app after the fork, and nothing loads at import), so each worker holds exactly one copy
of each model. Until every model is loaded and warm, `get` raises NotReady (the HTTP layer's 503
and /readyz).
"""

import atexit
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from contracts import META, read_hparams
from serving import engines
from serving.config import Settings
from serving.engines.base import Engine
from serving.errors import InvalidRequest, NotReady
from serving.scheduler import Scheduler
from serving.tokenizer import Tokenizer

log = logging.getLogger(__name__)


@dataclass
class ServedModel:
    name: str
    folder: Path
    engine: Engine
    tokenizer: Tokenizer
    scheduler: Scheduler
    meta: dict = field(default_factory=dict)
    loaded_at: float = 0.0
    load_seconds: float = 0.0


def discover(settings: Settings) -> dict[str, Path]:
    """Model folders under models_dir that the configured engine can serve, by name."""
    root = settings.models_dir
    if not root.is_dir():
        return {}
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    return {p.name: p for p in folders if engines.is_model_folder(settings.engine, p)}


class Registry:
    def __init__(self, settings: Settings, *, on_step=None, on_load=None):
        self.settings = settings
        self.folders = discover(settings)
        self.default = settings.default_model or next(iter(self.folders), None)
        if settings.default_model and settings.default_model not in self.folders:
            raise ValueError(
                f"GHOST_DEFAULT_MODEL={settings.default_model!r} is not among the models in "
                f"{settings.models_dir} ({', '.join(self.folders) or 'none'})"
            )
        self.models: dict[str, ServedModel] = {}
        self.ready = threading.Event()
        self.load_error: str | None = None
        self._on_step = on_step
        self._on_load = on_load or (lambda name: None)
        self._start_lock = threading.Lock()
        self._loader: threading.Thread | None = None

    def start_loading(self) -> None:
        """Starts the background load once; later calls return at once."""
        with self._start_lock:
            if self._loader is None:
                # An engine still alive at interpreter exit can abort the process (C++
                # destructors after the runtime is gone); stop and free them first.
                atexit.register(self.close)
                self._loader = threading.Thread(target=self._load_all, name="model-loader")
                self._loader.daemon = True
                self._loader.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        self.start_loading()
        return self.ready.wait(timeout)

    def _load_all(self) -> None:
        try:
            for name, folder in self.folders.items():
                self.models[name] = self._load(name, folder)
        except Exception as error:  # stays not ready; /readyz shows why
            log.exception("model load failed")
            self.load_error = f"{type(error).__name__}: {error}"
            return
        if self.folders:
            self.ready.set()

    def _load(self, name: str, folder: Path) -> ServedModel:
        started = time.monotonic()
        self._on_load(name)
        engine = engines.load(self.settings, folder)
        engine.warmup()
        tokenizer = Tokenizer(folder)
        assert tokenizer.n_vocab <= engine.n_vocab, (tokenizer.n_vocab, engine.n_vocab)
        meta = _read_json(folder / META)
        scheduler = Scheduler(
            engine, prefill_chunk=self.settings.prefill_chunk, on_step=self._on_step
        )
        seconds = time.monotonic() - started
        log.info("loaded model %s (%s) in %.1f s", name, engine.name, seconds)
        return ServedModel(name, folder, engine, tokenizer, scheduler, meta, time.time(), seconds)

    def describe(self, name: str) -> dict:
        """What /models and /info say about a model, from its files: no loading needed."""
        folder = self.folders[name]
        hparams = read_hparams(folder)
        meta = _read_json(folder / META)
        loaded = self.models.get(name)
        return {
            "name": name,
            "engine": self.settings.engine,
            "ready": loaded is not None,
            "n_ctx": self._context(hparams, loaded),
            "n_vocab": hparams.get("n_vocab"),
            "quantization": meta.get("quantization"),
            "base": meta.get("base"),
            "run": meta.get("run"),
            "step": meta.get("step"),
            "eval": meta.get("eval"),
            "exported_at": meta.get("exported_at"),
        }

    def _context(self, hparams: dict, loaded: "ServedModel | None") -> int | None:
        """Tokens one sequence may hold: the model's context, or less where the engine's slot
        is smaller (llama.cpp: kv_tokens / max_slots). Before loading, the same rule from the
        settings, so /models tells the limit the engine will enforce."""
        if loaded is not None:
            return loaded.engine.n_ctx
        n_ctx = hparams.get("n_ctx")
        if n_ctx and self.settings.engine == "llama":
            return min(n_ctx, self.settings.slot_tokens)
        return n_ctx

    def not_ready_reason(self) -> str:
        if not self.folders:
            return (
                f"no servable model in {self.settings.models_dir}; export one with "
                "`python -m model export` or set GHOST_MODELS_DIR"
            )
        if self.load_error:
            return f"model loading failed ({self.load_error}); see the server log"
        return "the model is loading; retry shortly"

    def get(self, name: str | None, *, param: str = "model") -> ServedModel:
        """The loaded model of that name (the default when None); InvalidRequest for an unknown
        name, NotReady before every model is loaded."""
        name = name or self.default
        if name is not None and name not in self.folders:
            known = ", ".join(self.folders) or "none"
            raise InvalidRequest(f"unknown model {name!r}; served models: {known}", param=param)
        self.start_loading()
        if not self.ready.is_set():
            raise NotReady(self.not_ready_reason())
        return self.models[name]

    def close(self) -> None:
        """Stops the engine loops and frees the engines; the registry serves nothing afterwards."""
        self.ready.clear()
        for model in self.models.values():
            model.scheduler.close()
            model.engine.close()


def _read_json(path: Path) -> dict:
    # A checkpoint folder served by the tensorflow engine has no meta.json.
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
