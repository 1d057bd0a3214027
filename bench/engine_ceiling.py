"""The engine ceiling: CTranslate2 `generate_batch` on the serving model, no HTTP, no API.

Same workload as the serving benchmark (16-token prompt, 64 new tokens, top-k 40), same
compute type and thread counts as the API's engine, so the stack's figures divide by these.
"""

import time
from pathlib import Path

from bench import workload


def api_engine_settings() -> dict:
    """The compute type and thread counts the API's engine runs with (its config's defaults and
    GHOST_* environment), so the ceiling is measured on the same footing."""
    from api import config

    settings = config.load()
    return {
        "compute_type": settings.compute_type,
        "inter_threads": settings.inter_threads,
        "intra_threads": settings.intra_threads,
    }


def generate_batch(generator, prompt_tokens: list[str], *, batch: int) -> int:
    """One raw engine call of the benchmark workload, `batch` copies of the prompt; new tokens."""
    results = generator.generate_batch(
        [prompt_tokens] * batch,
        max_length=workload.NEW_TOKENS,
        sampling_topk=workload.TOP_K,
        sampling_temperature=workload.TEMPERATURE,
        include_prompt_in_result=False,
    )
    return sum(len(result.sequences_ids[0]) for result in results)


def measure_batch(generator, prompt_tokens: list[str], *, batch: int, duration_s: float) -> dict:
    """Repeats one batched call until duration_s has passed; tokens/s over all calls."""

    def call() -> int:
        return generate_batch(generator, prompt_tokens, batch=batch)

    call()  # warm-up: first calls allocate caches for this batch shape
    tokens = calls = 0
    call_ms = []
    started = time.perf_counter()
    while calls == 0 or time.perf_counter() - started < duration_s:
        call_started = time.perf_counter()
        tokens += call()
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


def run(
    *,
    model_dir: Path,
    batches: tuple[int, ...],
    duration_s: float,
    compute_type: str,
    inter_threads: int,
    intra_threads: int,
) -> dict:
    from api.engines.ctranslate2_engine import CTranslate2Engine
    from model.tokenizer import load_fast_tokenizer

    prompt = workload.prompt_text(model_dir)
    prompt_tokens = load_fast_tokenizer(Path(model_dir)).encode(prompt).tokens
    # The API's own engine class, so the Generator is built the way the stack builds it.
    engine = CTranslate2Engine(
        Path(model_dir),
        compute_type=compute_type,
        inter_threads=inter_threads,
        intra_threads=intra_threads,
    )
    try:
        levels = [
            measure_batch(engine.generator, prompt_tokens, batch=batch, duration_s=duration_s)
            for batch in batches
        ]
    finally:
        engine.close()
    return {
        "compute_type": compute_type,
        "inter_threads": inter_threads,
        "intra_threads": intra_threads,
        "levels": levels,
    }
