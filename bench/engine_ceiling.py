"""The engine ceiling: each engine's raw tokens/s on the benchmark model, no HTTP, no API.

Same workload as the serving benchmark (16-token prompt, 64 new tokens, top-k 40) at batch
1 / 8 / 32:
- every slot engine the scheduler can step (bench.engines.STEP_ENGINES: ONNX Runtime and
  llama.cpp), each built by `serving.engines.load` with the API's settings and stepped as the
  scheduler steps it: one step per token for all sequences, the prompts prefilled in the first.
- CTranslate2 int8 `generate_batch` on the same checkpoint: the capacity reference (the
  open-loop rates are fractions of its batch-32 figure).
The result has bench.engines' shape: the served engine's figures on top, the others beside.

llama.cpp and CTranslate2 drive OpenMP (libgomp), whose spin-waiting stops once it counts more
of its threads than cores: llama.cpp's decodes all run on the engine's one decode thread, and
CTranslate2 loads on a thread that ends with the load (its helpers would otherwise stay parked
beside the generation's). ONNX Runtime runs its own pool, which sleeps when idle.
"""

import dataclasses
import threading
import time
from functools import partial
from pathlib import Path

from bench import engines, workload


def api_engine_settings(engine: str | None = None, *, min_slots: int = 1):
    """The serving Settings as the API reads them (its config's defaults and GHOST_*
    environment), for `engine` (default: the served one), with at least min_slots slots, so
    the ceiling is measured on the API's footing. A GHOST_KV_TYPE the engine does not take
    (llama's q8_0 for ONNX) is left to that engine's default."""
    from serving import config

    settings = config.load()
    engine = engine or settings.engine
    kv_type = settings.kv_type if settings.kv_type in config.KV_TYPES.get(engine, ()) else ""
    slots = max(settings.max_slots, min_slots)
    return dataclasses.replace(settings, engine=engine, kv_type=kv_type, max_slots=slots)


def generate_batch(engine, prompt_ids: list[int], *, batch: int) -> int:
    """`batch` sequences of the workload through a slot engine (open / step / free), one step
    per token for all of them, as the scheduler steps it; returns the new tokens."""
    from serving.engines.base import Feed

    for slot in range(batch):
        engine.open(
            slot, temperature=workload.TEMPERATURE, top_k=workload.TOP_K, top_p=1.0, seed=slot
        )
    try:
        tokens = engine.step([Feed(slot, prompt_ids, wants_token=True) for slot in range(batch)])
        for _ in range(workload.NEW_TOKENS - 1):
            tokens = engine.step([Feed(s, [t], wants_token=True) for s, t in enumerate(tokens)])
    finally:
        for slot in range(batch):
            engine.free(slot)
    return batch * workload.NEW_TOKENS


def ctranslate2_generate_batch(generator, prompt_tokens: list[str], *, batch: int) -> int:
    """One CTranslate2 `generate_batch` of the workload, `batch` copies of the prompt."""
    results = generator.generate_batch(
        [prompt_tokens] * batch,
        max_length=workload.NEW_TOKENS,
        sampling_topk=workload.TOP_K,
        sampling_temperature=workload.TEMPERATURE,
        include_prompt_in_result=False,
    )
    return sum(len(result.sequences_ids[0]) for result in results)


def measure_batch(call, *, batch: int, duration_s: float) -> dict:
    """Repeats `call(batch=batch)` (which returns new tokens) until duration_s has passed."""
    call(batch=batch)  # warm-up: first calls allocate buffers for this batch shape
    tokens = calls = 0
    call_ms = []
    started = time.perf_counter()
    while calls == 0 or time.perf_counter() - started < duration_s:
        call_started = time.perf_counter()
        tokens += call(batch=batch)
        call_ms.append((time.perf_counter() - call_started) * 1000)
        calls += 1
    elapsed = time.perf_counter() - started
    return {
        "batch": batch,
        "calls": calls,
        "tokens": tokens,
        "seconds": round(elapsed, 3),
        "tokens_per_s": round(tokens / elapsed, 2),
        "ms_per_call": round(sum(call_ms) / calls, 2),
    }


def on_own_thread(function, *args, **kwargs):
    """function(*args, **kwargs) on a thread that ends when it returns (see the module's doc)."""
    outcome = {}

    def call() -> None:
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # re-raised on the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=call, name="engine-ceiling")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def measure_step_engine(model_dir: Path, name: str, batches, duration_s: float) -> dict:
    """One slot engine as the API builds it (serving.engines.load), stepped batch by batch."""
    from serving import engines as serving_engines
    from serving.tokenizer import Tokenizer

    prompt_ids = Tokenizer(model_dir).encode(workload.prompt_text(model_dir))
    settings = api_engine_settings(name, min_slots=max(batches))
    engine = serving_engines.load(settings, model_dir)
    try:
        call = partial(generate_batch, engine, prompt_ids)
        levels = [measure_batch(call, batch=b, duration_s=duration_s) for b in batches]
        kv_type = getattr(engine, "kv_type", "") or settings.engine_kv_type
        shape = {"kv_tokens": engine.kv_tokens, "kv_type": kv_type}
    finally:
        engine.close()
    return {
        "threads": settings.engine_threads,
        "max_slots": settings.max_slots,
        **shape,
        "levels": levels,
    }


def measure_ctranslate2(model_dir: Path, batches, duration_s: float) -> dict:
    """int8, one call at a time, every core inside it: how the API ran CTranslate2."""
    import ctranslate2

    from model.tokenizer import load_fast_tokenizer

    prompt = load_fast_tokenizer(model_dir).encode(workload.prompt_text(model_dir)).tokens
    # Loading runs OpenMP work on the loading thread, whose helpers then outlive the load while
    # generation runs on CTranslate2's own worker thread: load on a thread that ends.
    generator = on_own_thread(
        ctranslate2.Generator,
        str(model_dir),
        device="cpu",
        compute_type="int8",
        inter_threads=1,
        intra_threads=0,
    )
    call = partial(ctranslate2_generate_batch, generator, prompt)
    levels = [measure_batch(call, batch=b, duration_s=duration_s) for b in batches]
    del call, generator  # while the interpreter is whole: CTranslate2 can abort at exit otherwise
    return {"compute_type": "int8", "inter_threads": 1, "intra_threads": 0, "levels": levels}


def run(
    *,
    model_dir: Path,
    ctranslate2_dir: Path,
    batches: tuple[int, ...],
    duration_s: float,
) -> dict:
    """Every step engine, then the CTranslate2 reference; bench.engines' shape."""

    def measure(name: str) -> dict:
        if name == engines.REFERENCE:
            return measure_ctranslate2(Path(ctranslate2_dir), batches, duration_s)
        return measure_step_engine(Path(model_dir), name, batches, duration_s)

    by_engine = engines.in_turn(measure, (*engines.STEP_ENGINES, engines.REFERENCE))
    return engines.side_by_side(by_engine, engines.served())
