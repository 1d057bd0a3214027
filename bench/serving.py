"""The product as users meet it: the real nginx → uWSGI → API stack under closed-loop load.

Each level keeps `concurrency` requests in flight for a fixed time (16-token prompt, 64 new
tokens, top-k 40) and records tokens/s, requests/s, latency and time-to-first-token percentiles,
errors, and the peak memory of the uWSGI worker, of nginx and of the whole stack. Every level
runs twice: streaming (server-sent events, as the web page asks; this gives the time to first
token) and plain JSON (as most API clients ask; the first token arrives with the last).
"""

import contextlib
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psutil

from bench import load, workload
from bench.memory import PeakMemory
from bench.profile import Profile

# The clients all come from 127.0.0.1, which nginx's per-client limits would treat as one
# abusive user: raise them so they never bind (the directives still run on every request).
NGINX_UNLIMITED = {
    "GHOST_NGINX_RATE": "100000r/s",
    "GHOST_NGINX_BURST": "100000",
    "GHOST_NGINX_CONN_LIMIT": "10000",
}


def app_settings(levels: tuple[int, ...]) -> dict[str, str]:
    """Admission sized so the highest level is served, never refused."""
    return {"GHOST_MAX_INFLIGHT": str(2 * max(levels))}


def one_client(app_env: dict[str, str]) -> dict[str, str]:
    """app_env with the API's per-client cap raised to its overall admission limit: like nginx,
    the API would take the benchmark's one address for a single greedy client."""
    from serving.config import Settings

    limit = app_env.get("GHOST_MAX_INFLIGHT", str(Settings.max_inflight))
    return {**app_env, "GHOST_MAX_CLIENT_INFLIGHT": limit}


MODES = {"stream": True, "json": False}


def request_path(prefix: str, *, stream: bool) -> str:
    query = {
        "prefix": prefix,
        "length": workload.NEW_TOKENS,
        "top_k": workload.TOP_K,
        "temperature": workload.TEMPERATURE,
        "stream": "true" if stream else "false",
    }
    return "/generate?" + urlencode(query)


def worker_pids(master_pid: int) -> list[int]:
    return [child.pid for child in psutil.Process(master_pid).children()]


def measure_level(
    stack,
    prefix: str,
    *,
    mode: str,
    concurrency: int,
    duration_s: float,
    profile_dir: Path | None = None,
) -> dict:
    address = urlsplit(stack.url)
    workers = worker_pids(stack.uwsgi_pid)
    memory = PeakMemory(
        {
            "worker": workers,
            "uwsgi": [stack.uwsgi_pid],  # master and workers
            "nginx": [stack.nginx_pid],  # master and workers
        },
        total=("uwsgi", "nginx"),
    )
    profile = None
    if profile_dir is not None:
        out = profile_dir / f"worker-{mode}-c{concurrency}.txt"
        profile = Profile(workers[0], seconds=duration_s, out=out)
    with memory, profile or contextlib.nullcontext():
        result = load.closed_loop(
            address.hostname,
            address.port,
            request_path(prefix, stream=MODES[mode]),
            concurrency=concurrency,
            duration_s=duration_s,
            stream=MODES[mode],
            timeout_s=max(120.0, 4 * duration_s),
        )
    result = {"mode": mode, **result, "memory": memory.peaks()}
    if profile is not None:
        result["profile"] = profile.summary()
    return result


@contextlib.contextmanager
def native_stack(serving_dir: Path, app_env: dict[str, str]):
    """The native nginx → uWSGI → API stack serving only serving_dir, per-client limits raised."""
    from stack import NativeStack, models_folder

    with (
        models_folder([serving_dir]) as models_dir,
        NativeStack(
            models_dir=models_dir,
            default_model=serving_dir.name,
            app_env=app_env,
            nginx_env=NGINX_UNLIMITED,
            ready_timeout=300.0,
        ) as stack,
    ):
        yield stack


def run(
    *,
    serving_dir: Path,
    levels: tuple[int, ...],
    duration_s: float,
    engine: str,
    profile_dir: Path | None = None,
) -> dict:
    """The stack serving with `engine` (GHOST_ENGINE). profile_dir: when given, py-spy samples
    the worker during each level (not the warm-up)."""
    serving_dir = Path(serving_dir).resolve()
    prefix = workload.prompt_text(serving_dir)
    settings = one_client({**app_settings(levels), "GHOST_ENGINE": engine})
    with native_stack(serving_dir, settings) as stack:
        idle = PeakMemory({"uwsgi": [stack.uwsgi_pid], "nginx": [stack.nginx_pid]})
        with idle:
            pass
        # One short unrecorded round, so first-connection costs stay out of the first level.
        warm_up = {"concurrency": max(levels), "duration_s": min(2.0, duration_s)}
        measure_level(stack, prefix, mode="stream", **warm_up)
        measured = [
            measure_level(
                stack,
                prefix,
                mode=mode,
                concurrency=concurrency,
                duration_s=duration_s,
                profile_dir=profile_dir,
            )
            for mode in MODES
            for concurrency in levels
        ]
    return {
        "engine": engine,
        "model": serving_dir.name,
        "app_env": settings,
        "nginx_env": NGINX_UNLIMITED,
        "idle_memory": idle.peaks(),
        "levels": measured,
    }
