"""How much of the raw engine's speed the API keeps, without HTTP; and the worker's memory.

Raw: the served engine's per-step API driven directly (bench.engine_ceiling's loop: all
sequences advanced one token per step); the served engine is the API's own (serving.config:
GHOST_ENGINE, else the product's default). API: the same model behind the app's registry,
admission control, scheduler and text streaming (`serving.generation`), driven by N request
threads at once, as uWSGI's threads would. Same workload for both (bench.workload: 16 prompt
tokens, 64 new, top-k 40), same engine settings (serving.config). Both sides share the app's one
engine, in a process of their own whose RSS is the worker's memory, and run as back-to-back
pairs of calls (medians reported), so load from other processes on a shared machine hits both
alike. The raw side steps the engine on a short-lived thread while the scheduler is idle (an
engine is stepped by one thread at a time; a thread's OpenMP helpers end with it).
Targets: API >= 90 % of raw at batch 1 and 32, RSS < 600 MB.

`python -m bench.api_ceiling MODEL_DIR [--smoke]` prints the result as JSON.
"""

import json
import statistics
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

from bench import engine_ceiling, workload

BATCHES = (1, 32)
RATIO_TARGET = 0.90
RSS_TARGET_MB = 600


def run(*, model_dir: Path, smoke: bool) -> dict:
    pairs = 2 if smoke else 9
    command = [sys.executable, "-m", "bench.api_ceiling", "--measure", str(model_dir), str(pairs)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if result.returncode:
        raise RuntimeError(
            f"api_ceiling measurement exited {result.returncode}:\n{result.stderr[-2000:]}"
        )
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    levels = [_level(batch, measured["pairs"][str(batch)]) for batch in BATCHES]
    return {
        "engine": measured["settings"]["engine"],
        "model_dir": str(model_dir),
        "settings": measured["settings"],
        "pairs": pairs,
        "levels": levels,
        "worker_rss_mb": measured["rss_mb"],
        "targets": {"api_share_of_raw_min": RATIO_TARGET, "worker_rss_mb_max": RSS_TARGET_MB},
        "meets_targets": all(level["api_share_of_raw"] >= RATIO_TARGET for level in levels)
        and measured["rss_mb"] < RSS_TARGET_MB,
    }


def _level(batch: int, pairs: list[dict]) -> dict:
    """The share is the median of per-pair ratios: the two calls of a pair run back to back,
    so a load spike from other processes mostly hits both."""
    return {
        "batch": batch,
        "raw_tokens_per_s": round(statistics.median(p["raw"] for p in pairs), 1),
        "api_tokens_per_s": round(statistics.median(p["api"] for p in pairs), 1),
        "api_share_of_raw": round(statistics.median(p["api"] / p["raw"] for p in pairs), 3),
        "pairs": pairs,
    }


def _timed(call) -> float:
    """Tokens/s of one call (which returns the tokens it made)."""
    started = time.perf_counter()
    tokens = call()
    return round(tokens / (time.perf_counter() - started), 1)


def measure(model_dir: Path, pairs: int) -> dict:
    from api import create_app
    from serving.generation import begin
    from serving.sampling_params import SamplingParams
    from stack import models_folder

    params = SamplingParams(
        length=workload.NEW_TOKENS, temperature=workload.TEMPERATURE, top_k=workload.TOP_K
    )
    text = workload.prompt_text(model_dir)
    with models_folder([model_dir]) as models_dir:
        app = create_app({"models_dir": models_dir, "max_client_inflight": 2 * max(BATCHES)})
        service = app.extensions["ghostwriter"]
        assert service.registry.wait_ready(300), service.registry.not_ready_reason()
        model = service.registry.get(model_dir.name)
        prompt_ids = model.tokenizer.encode(text)

        def raw(batch: int) -> int:
            wait_idle(model.scheduler)
            return engine_ceiling.on_own_thread(
                engine_ceiling.generate_batch, model.engine, prompt_ids, batch=batch
            )

        def one_request() -> int:
            run = begin(
                model, text, params, policy=service.policy, live=False, observer=service.metrics
            )
            run.wait_started()
            return sum(sample.tokens for sample in run.complete())

        sides = {
            "raw": lambda batch: raw(batch),
            "api": lambda batch: _concurrently(one_request, batch),
        }
        measured = {str(b): [] for b in BATCHES}
        for batch in BATCHES:
            for call in sides.values():
                call(batch)  # warm-up: first calls allocate caches for this batch shape
            for number in range(pairs):
                order = ["raw", "api"] if number % 2 == 0 else ["api", "raw"]
                pair = {side: _timed(partial(sides[side], batch)) for side in order}
                measured[str(batch)].append({"raw": pair["raw"], "api": pair["api"]})
        rss = _rss_mb()
        service.registry.close()
    settings = {k: str(v) for k, v in vars(service.settings).items() if k != "models_dir"}
    return {"pairs": measured, "rss_mb": rss, "settings": settings}


def wait_idle(scheduler, timeout_s: float = 30.0) -> None:
    """Until the scheduler holds no sequence: it frees a finished one's slot after its client
    has the last token, and an engine must not be stepped by two threads at once."""
    deadline = time.monotonic() + timeout_s
    while scheduler.active or scheduler.queue_depth:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the scheduler still holds sequences after {timeout_s:g} s")
        time.sleep(0.001)


def _concurrently(request, count: int) -> int:
    """`count` request threads at once, as uWSGI threads would be; total tokens."""
    if count == 1:
        return request()
    made = [0] * count

    def work(index: int) -> None:
        made[index] = request()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(made)


def _rss_mb() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / 2**20, 1)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--measure"]:
        print(json.dumps(measure(Path(argv[1]), int(argv[2]))))
        return 0
    print(json.dumps(run(model_dir=Path(argv[0]), smoke="--smoke" in argv), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
