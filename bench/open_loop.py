"""Open-loop serving benchmark (the method of vLLM's serving benchmark), side by side with
llama.cpp's `llama-server`.

Requests arrive on a fixed Poisson schedule of mixed traffic (bench/traffic.py) at 25/50/75/100 %
of the capacity (CTranslate2's measured batch-32 tokens/s), whether or not earlier ones have been
answered, and stream their tokens. The same schedule goes to the native stack (nginx → uWSGI →
API) once per step engine (ONNX Runtime, llama.cpp) and to a `llama-server` on the same GGUF
file, with as many slots and KV cells as the API's engine.

Per rate: tokens/s served, rejections, time to first token (TTFT) and time per output token
(TPOT, vLLM's: (latency − TTFT) / (tokens − 1)) p50/p99, TPOT of seeded vs unseeded requests.
"""

import asyncio
import dataclasses
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench import engines, llama_server, load, serving, traffic
from bench.memory import PeakMemory
from bench.serving import NGINX_UNLIMITED
from contracts import GGUF_MODEL

FRACTIONS = (0.25, 0.5, 0.75, 1.0)
REJECTIONS = ("http:503", "http:429", "event:overloaded")
WARM_UP_REQUESTS = 8
# Past the API's own per-request deadline (GHOST_MAX_REQUEST_S, 180 s), which ends a request
# that waited too long: a client timeout only catches what the server failed to end. A request
# given up on counts none of its tokens, so a shorter bound would understate a backlogged
# server's tokens/s (60 s did, for 256-token answers at 100 % on a loaded machine).
REQUEST_TIMEOUT_S = 190.0


def generate_path(request: traffic.Request) -> str:
    query = {
        "prefix": request.prompt,
        "length": request.length,
        "temperature": request.temperature,
        "top_k": request.top_k,
        "top_p": request.top_p,
        "stream": "true",
    }
    if request.seed is not None:
        query["seed"] = request.seed
    return "/generate?" + urlencode(query)


def ghostwriter_sender(url: str):
    address = urlsplit(url)

    def send(request: traffic.Request, clock):
        path = generate_path(request)
        return load.one_request(address.hostname, address.port, path, stream=True, clock=clock)

    return send


def llama_server_sender(url: str):
    address = urlsplit(url)

    def send(request: traffic.Request, clock):
        return load.one_request(
            address.hostname,
            address.port,
            "/completion",
            stream=True,
            clock=clock,
            body=llama_server.completion_body(request),
            count=llama_server.event_tokens,
        )

    return send


async def drive(
    send, requests: list[traffic.Request], timeout_s: float
) -> list[load.RequestTiming]:
    """Sends each request at its arrival time, however many are still unanswered."""
    origin = time.perf_counter()

    def clock() -> float:
        return time.perf_counter() - origin

    async def one(request: traffic.Request) -> load.RequestTiming:
        await asyncio.sleep(max(0.0, request.at - clock()))
        try:
            return await asyncio.wait_for(send(request, clock), timeout_s)
        except TimeoutError:
            return load.RequestTiming(started=request.at, error="timeout")
        except (OSError, ValueError, KeyError, asyncio.IncompleteReadError) as error:
            return load.RequestTiming(started=request.at, error=type(error).__name__)

    return await asyncio.gather(*(one(request) for request in requests))


def ms_percentiles(values: list[float]) -> dict:
    def at(q):
        value = load.percentile(values, q)
        return None if value is None else round(value * 1000, 1)

    return {"p50": at(50), "p99": at(99), "count": len(values)}


def tpot(sample: load.RequestTiming) -> float | None:
    """Seconds per output token after the first; None with fewer than two tokens."""
    if sample.tokens < 2:
        return None
    return (sample.finished - sample.first_token) / (sample.tokens - 1)


def answered(requests, samples) -> list[tuple[traffic.Request, load.RequestTiming]]:
    pairs = zip(requests, samples, strict=True)
    return [(r, s) for r, s in pairs if s.error is None and s.finished is not None]


def tpots_by_kind(done) -> dict[str, list[float]]:
    """Seconds per output token of the answered requests, seeded and unseeded apart."""
    kinds = {"seeded": [], "unseeded": []}
    for request, sample in done:
        if (value := tpot(sample)) is not None:
            kinds["unseeded" if request.seed is None else "seeded"].append(value)
    return kinds


def summarise_rate(requests: list[traffic.Request], samples: list[load.RequestTiming]) -> dict:
    """One rate's figures. The span runs from the schedule's start to the last answer, so a
    server that falls behind is charged for the backlog it built."""
    done = answered(requests, samples)
    errors: dict[str, int] = {}
    for sample in samples:
        if sample.error:
            errors[sample.error] = errors.get(sample.error, 0) + 1
    span = max((s.finished for _, s in done), default=0.0) or None
    tokens = sum(s.tokens for _, s in done)
    per_token = tpots_by_kind(done)
    return {
        "requests": len(requests),
        "completed": len(done),
        "rejected": sum(errors.get(kind, 0) for kind in REJECTIONS),
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "seconds": round(span, 3) if span else None,
        "tokens": tokens,
        "tokens_per_s": round(tokens / span, 2) if span else 0.0,
        "ttft_ms": ms_percentiles([s.first_token - s.started for _, s in done if s.first_token]),
        "tpot_ms": ms_percentiles(per_token["seeded"] + per_token["unseeded"]),
        "tpot_ms_seeded": ms_percentiles(per_token["seeded"]),
        "tpot_ms_unseeded": ms_percentiles(per_token["unseeded"]),
        "latency_ms": ms_percentiles([s.finished - s.started for _, s in done]),
    }


def measure_rates(send, plan: list[dict], *, timeout_s: float, memory_groups=None) -> dict:
    """Runs each rate of the plan against one server, one after another. Seeded requests are
    one in ten, too few per rate for a percentile: their TPOT is also pooled over all rates."""
    rows, pooled = [], {"seeded": [], "unseeded": []}
    # Unrecorded: a few requests at once, so first connections and first steps stay out.
    warm_up = [dataclasses.replace(r, at=0.0) for r in plan[0]["requests"][:WARM_UP_REQUESTS]]
    asyncio.run(drive(send, warm_up, timeout_s))
    for rate in plan:
        memory = PeakMemory(memory_groups or {})
        with memory:
            samples = asyncio.run(drive(send, rate["requests"], timeout_s))
        row = {key: value for key, value in rate.items() if key != "requests"}
        row |= summarise_rate(rate["requests"], samples)
        if memory_groups:
            row["memory"] = memory.peaks()
        rows.append(row)
        for kind, values in tpots_by_kind(answered(rate["requests"], samples)).items():
            pooled[kind] += values
    return {
        "rates": rows,
        "tpot_ms_pooled": {kind: ms_percentiles(values) for kind, values in pooled.items()},
    }


def rate_plan(
    capacity_tokens_per_s: float, mix: traffic.Mix, *, duration_s: float | None, count: int | None
) -> list[dict]:
    """Each rate's schedule: the arrivals within duration_s, their times scaled so that they ask
    for exactly the rate's demand (traffic.at_demand), or else the first `count` arrivals however
    long they take (a smoke run: a few requests, whatever this machine's capacity)."""
    plan = []
    for fraction in FRACTIONS:
        demand = fraction * capacity_tokens_per_s
        rate = traffic.rate_for(demand, mix)
        if count is None:
            requests = traffic.schedule(mix, rate_per_s=rate, duration_s=duration_s)
            requests, factor = traffic.at_demand(requests, demand, duration_s)
            rate /= factor
        else:  # Poisson: 2 × count / rate seconds hold `count` arrivals but for a tiny chance
            window = max(10.0, 2 * count) / rate
            requests = traffic.schedule(mix, rate_per_s=rate, duration_s=window)[:count]
        plan.append(
            {
                "fraction": fraction,
                "demand_tokens_per_s": round(demand, 1),
                "rate_per_s": round(rate, 3),
                "requests": requests,
            }
        )
    return plan


def engine_shape(app_env: dict[str, str]) -> dict:
    """Slots, KV cells and threads of the API's engine under app_env, for llama-server to match."""
    from serving import config

    settings = config.load(config.from_environment(app_env))
    return {
        "slots": settings.max_slots,
        "kv_tokens": settings.kv_tokens,
        "threads": settings.engine_threads,
    }


def run_llama_server(
    serving_dir: Path, plan, shape: dict, *, timeout_s, log_dir: Path, build: bool
) -> dict:
    """The same plan against llama-server; skipped, with the reason, where it cannot run.
    build: build the binary when it is not cached (minutes; a smoke run does not)."""
    from stack import free_port

    gguf = serving_dir / GGUF_MODEL
    if not gguf.is_file():
        return {"skipped": f"no {GGUF_MODEL} in {serving_dir} (the export writes it)"}
    if not (build or llama_server.binary_path().is_file()):
        return {"skipped": "llama-server is not built yet (a full `make bench` builds it)"}
    try:
        binary, build_s = llama_server.ensure_binary()
    except llama_server.BuildError as error:
        return {"skipped": f"llama-server did not build: {error}"}
    server = llama_server.LlamaServer(
        binary, gguf, **shape, port=free_port(), log=log_dir / "llama-server.log"
    )
    with server as url:
        figures = measure_rates(
            llama_server_sender(url),
            plan,
            timeout_s=timeout_s,
            memory_groups={"server": [server.process.pid]},
        )
    return {"binary": str(binary), "build_s": build_s, "shape": shape, **figures}


def run_stack(serving_dir: Path, plan, app_env: dict[str, str], engine: str) -> dict:
    """The plan against the native stack serving with `engine` (GHOST_ENGINE)."""
    with serving.native_stack(serving_dir, {**app_env, "GHOST_ENGINE": engine}) as stack:
        groups = {"worker": serving.worker_pids(stack.uwsgi_pid), "nginx": [stack.nginx_pid]}
        return measure_rates(
            ghostwriter_sender(stack.url), plan, timeout_s=REQUEST_TIMEOUT_S, memory_groups=groups
        )


def run(
    *,
    serving_dir: Path,
    capacity_tokens_per_s: float,
    mix: traffic.Mix,
    duration_s: float | None,
    log_dir: Path,
    requests_per_rate: int | None = None,
    build_llama_server: bool = True,
) -> dict:
    """capacity_tokens_per_s: CTranslate2's batch-32 rate in the same run's engine ceiling.
    Each rate lasts duration_s, or (a smoke run) sends requests_per_rate requests. The stack
    runs the plan once per step engine; "ghostwriter" has bench.engines' shape."""
    serving_dir = Path(serving_dir).resolve()
    plan = rate_plan(capacity_tokens_per_s, mix, duration_s=duration_s, count=requests_per_rate)
    app_env = serving.one_client({})  # otherwise the product's own settings

    def measure(engine: str) -> dict:
        return {"engine": engine, **run_stack(serving_dir, plan, app_env, engine)}

    ours = engines.side_by_side(engines.in_turn(measure, engines.STEP_ENGINES), engines.served())
    result = {
        "model": serving_dir.name,
        "capacity_tokens_per_s": capacity_tokens_per_s,
        "duration_s": duration_s,
        "requests_per_rate": requests_per_rate,
        "schedule_seed": traffic.SCHEDULE_SEED,
        "mix": {**dataclasses.asdict(mix), "mean_length": mix.mean_length},
        "app_env": app_env,
        "nginx_env": NGINX_UNLIMITED,
        "ghostwriter": ours,
    }
    result["llama_server"] = run_llama_server(
        serving_dir,
        plan,
        engine_shape(app_env),
        timeout_s=REQUEST_TIMEOUT_S,
        log_dir=log_dir,
        build=build_llama_server,
    )
    return result
