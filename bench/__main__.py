"""`python -m bench [--smoke]`: every benchmark in one run, on this machine.

Writes bench/results/<timestamp>.json and prints a markdown table with the targets. Each section
runs on its own: one that fails is recorded as failed (with its error) and the others still run.
"""

import argparse
import datetime
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import psutil

from bench import (
    api_ceiling,
    engine_ceiling,
    engines,
    models,
    open_loop,
    prepare,
    quality,
    report,
    serving,
    soak,
    traffic,
    training,
    workload,
)
from bench.original_designs import measure as original_designs
from contracts import HPARAMS

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# Per-level seconds: full run, smoke run.
DURATIONS = {
    "serving": (20.0, 2.0),
    "engine": (10.0, 1.0),
    "originals": (25.0, 2.0),
    "open_loop": (40.0, None),  # a smoke run sends SMOKE_REQUESTS_PER_RATE instead
}
PREPARE_MB = (500, 2)
SMOKE_REQUESTS_PER_RATE = 12


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: seconds, not minutes")
    parser.add_argument("--only", help="comma-separated sections to run (default: all)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("GHOST_DATA_DIR", "data")),
        help="where the benchmark models are made and kept (default $GHOST_DATA_DIR or ./data)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the API worker with py-spy during each serving level (stacks kept in results)",
    )
    args = parser.parse_args(argv)
    if args.only:
        unknown = set(args.only.split(",")) - set(SECTIONS)
        if unknown:
            known = ", ".join(SECTIONS)
            parser.error(f"unknown section {', '.join(sorted(unknown))}; choose from {known}")
    return args


def pick(durations: tuple, smoke: bool):
    return durations[1] if smoke else durations[0]


def run_prepare(args, model):
    return prepare.run(size_mb=pick(PREPARE_MB, args.smoke))


def run_training(args, model):
    return training.run(smoke=args.smoke, demo_prepared=args.data_dir / "prepared" / "sample")


def run_quality(args, model):
    return quality.run(smoke=args.smoke)


def run_api_ceiling(args, model):
    return api_ceiling.run(model_dir=model.serving_dir, smoke=args.smoke)


def run_engine_ceiling(args, model):
    return engine_ceiling.run(
        model_dir=model.serving_dir,
        ctranslate2_dir=model.ctranslate2_dir,
        batches=workload.LEVELS,
        duration_s=pick(DURATIONS["engine"], args.smoke),
    )


def run_serving(args, model):
    """The closed loop through nginx once per step engine, each on a stack of its own."""
    profiles = args.results / f"{args.stamp}-profiles" if args.profile else None

    def measure(engine: str) -> dict:
        return serving.run(
            serving_dir=model.serving_dir,
            levels=workload.LEVELS,
            duration_s=pick(DURATIONS["serving"], args.smoke),
            engine=engine,
            profile_dir=profiles / engine if profiles else None,
        )

    by_engine = engines.in_turn(measure, engines.STEP_ENGINES)
    return engines.side_by_side(by_engine, engines.served())


def run_original_designs(args, model):
    return original_designs.run(
        base_dir=model.base_dir,
        serving_dir=model.serving_dir,
        levels=workload.ORIGINAL_LEVELS,
        duration_s=pick(DURATIONS["originals"], args.smoke),
        fresh_server_per_level=not args.smoke,
        processes=1 if args.smoke else 2,
    )


def capacity(args, model) -> float:
    """CTranslate2's batch-32 tokens/s in this run's engine ceiling, measured now if it did not
    run: the open loop's capacity whichever engine serves."""
    ceiling = args.sections.get("engine_ceiling", {})
    if ceiling.get("status") != "ok":
        ceiling = {"result": run_engine_ceiling(args, model)}
    reference = engines.figures_of(ceiling["result"], engines.REFERENCE)
    return report.level(reference["levels"], "batch", max(workload.LEVELS))["tokens_per_s"]


def run_open_loop(args, model):
    return open_loop.run(
        serving_dir=model.serving_dir,
        capacity_tokens_per_s=capacity(args, model),
        mix=traffic.SMOKE_MIX if args.smoke else traffic.FULL_MIX,
        duration_s=pick(DURATIONS["open_loop"], args.smoke),
        log_dir=args.results / f"{args.stamp}-logs",
        requests_per_rate=SMOKE_REQUESTS_PER_RATE if args.smoke else None,
        build_llama_server=not args.smoke,
    )


def run_soak(args, model):
    return soak.run(
        serving_dir=model.serving_dir,
        plan=soak.SMOKE_PLAN if args.smoke else soak.FULL_PLAN,
        mix=soak.SMOKE_SOAK_MIX if args.smoke else soak.SOAK_MIX,
    )


# In run order: the serving figures and their ceiling back to back, on the same machine state.
SECTIONS = {
    "engine_ceiling": run_engine_ceiling,
    "serving": run_serving,
    "open_loop": run_open_loop,
    "soak": run_soak,
    "api_ceiling": run_api_ceiling,
    "original_designs": run_original_designs,
    "prepare": run_prepare,
    "training": run_training,
    "quality": run_quality,
}


def run_section(function, args, model) -> dict:
    # Other work on the machine skews the figures: keep the 1-minute load average beside them.
    load_before = round(os.getloadavg()[0], 2)
    started = time.monotonic()
    try:
        result = {"status": "ok", "result": function(args, model)}
    except Exception:  # a broken section must not cost the others their figures
        result = {"status": "failed", "error": traceback.format_exc(limit=8)}
    result["seconds"] = round(time.monotonic() - started, 1)
    result["load_average"] = {"before": load_before, "after": round(os.getloadavg()[0], 2)}
    return result


def machine() -> dict:
    cpu_model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def write_json(path: Path, result: dict) -> None:
    """Atomic: a temp file in the same folder, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".json.tmp")
    temp.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temp, path)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    started_at = now()
    # File names: 2026-01-31T120000Z[-smoke].json
    args.stamp = started_at.replace(":", "").replace("+0000", "Z")
    args.stamp += "-smoke" if args.smoke else ""
    result = {
        "format": 1,
        "smoke": args.smoke,
        "started_at": started_at,
        "machine": machine(),
        "workload": {
            "prompt_tokens": workload.PROMPT_TOKENS,
            "new_tokens": workload.NEW_TOKENS,
            "top_k": workload.TOP_K,
            "temperature": workload.TEMPERATURE,
        },
        "sections": {},
    }
    model = models.ensure_model(args.data_dir.resolve(), smoke=args.smoke)
    result["model"] = {
        "name": model.name,
        "hparams": json.loads((model.base_dir / HPARAMS).read_text()),
        "serving_dir": str(model.serving_dir),
    }
    path = args.results / f"{args.stamp}.json"
    args.sections = result["sections"]  # a section may use an earlier one's figures
    for name in chosen:
        print(f"bench: {name} …", file=sys.stderr, flush=True)
        result["sections"][name] = run_section(SECTIONS[name], args, model)
        print(f"bench: {name} {result['sections'][name]['status']}", file=sys.stderr, flush=True)
        write_json(path, result)  # an interrupted run keeps the sections it finished
    result["finished_at"] = now()
    result["machine"]["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = report.evaluate_targets(result)
    write_json(path, result)
    print(report.markdown(result))
    print(f"bench: wrote {path}", file=sys.stderr)
    return 1 if any(s["status"] == "failed" for s in result["sections"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
