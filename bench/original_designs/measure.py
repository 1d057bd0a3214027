"""Measures both original designs on the serving workload, each level on a fresh server.

Levels are time-bounded: clients stop at the deadline (or at the first completed request if
none completed by then) and requests still running are abandoned; a fresh server per level keeps
that abandoned work from slowing the next level. Smoke runs, where starting TensorFlow costs more
than the requests, keep one server per design and let each level's requests finish instead.
"""

import tempfile
from pathlib import Path
from urllib.parse import urlencode

from bench import load, workload
from bench.memory import PeakMemory
from bench.original_designs.server import uwsgi_server

DESIGNS = {
    "reload_per_request": "bench.original_designs.reload_per_request",
    "load_once": "bench.original_designs.load_once",
}


def request_path(prefix: str) -> str:
    query = {
        "prefix": prefix,
        "length": workload.NEW_TOKENS,
        "top_k": workload.TOP_K,
        "temperature": workload.TEMPERATURE,
    }
    return "/generate?" + urlencode(query)


def measure_level(port: int, pid: int, path: str, *, concurrency, duration_s, drain) -> dict:
    memory = PeakMemory({"server": [pid]})
    with memory:
        result = load.closed_loop(
            "127.0.0.1",
            port,
            path,
            concurrency=concurrency,
            duration_s=duration_s,
            stream=False,
            timeout_s=max(300.0, 4 * duration_s),
            drain=drain,
        )
    result["memory"] = memory.peaks()["server"]
    return result


def measure_design(module: str, *, base_dir, path, levels, duration_s, processes, fresh, logs):
    def server(name: str):
        log = Path(logs) / f"{module}-{name}.log"
        return uwsgi_server(module, base_dir=base_dir, processes=processes, log=log)

    if fresh:
        results = []
        for concurrency in levels:
            with server(str(concurrency)) as (port, pid):
                results.append(
                    measure_level(
                        port, pid, path, concurrency=concurrency, duration_s=duration_s, drain=False
                    )
                )
        return results
    with server("all") as (port, pid):
        return [
            measure_level(port, pid, path, concurrency=c, duration_s=duration_s, drain=True)
            for c in levels
        ]


def run(
    *,
    base_dir: Path,
    serving_dir: Path,
    levels: tuple[int, ...],
    duration_s: float,
    fresh_server_per_level: bool,
    processes: int = 2,
) -> dict:
    """base_dir: the gpt-2-simple model; serving_dir: its export (only for the prompt text,
    which must be the same 16 tokens the stack gets)."""
    path = request_path(workload.prompt_text(serving_dir))
    results = {
        "processes": processes,
        "duration_s": duration_s,
        "fresh_server_per_level": fresh_server_per_level,
    }
    with tempfile.TemporaryDirectory(prefix="bench-originals-") as logs:
        for design, module in DESIGNS.items():
            levels_measured = measure_design(
                module,
                base_dir=base_dir,
                path=path,
                levels=levels,
                duration_s=duration_s,
                processes=processes,
                fresh=fresh_server_per_level,
                logs=logs,
            )
            results[design] = {"module": module, "levels": levels_measured}
    return results
