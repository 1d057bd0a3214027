"""Soak: thousands of mixed requests through the native stack, and the worker's memory across them.

After a warm-up, `requests` requests (mixed lengths and sampling settings, one in ten seeded,
streaming and plain JSON alternating, one in twenty a client that leaves after the first chunk)
are sent by a fixed number of closed-loop clients. The uWSGI workers' RSS is read every `every`
completed requests; the figure that matters is its growth over the last 60 % of the requests
(the last 3,000 of 5,000): a warm worker must stay flat (< 2 %).
"""

import asyncio
import dataclasses
import time
from urllib.parse import urlsplit

import psutil

from bench import load, open_loop, serving, traffic

MB = 2**20
# Short requests: the soak counts requests (each one's allocations), not tokens.
SOAK_MIX = traffic.Mix(lengths=(1, 32), prompt_words=(4, 64))
SMOKE_SOAK_MIX = traffic.Mix(lengths=(1, 16), prompt_words=(4, 16))
LEAVER_EVERY = 20  # one in twenty clients leaves after the first chunk
GROWTH_WINDOW = 0.6  # the last 3,000 of 5,000 requests


@dataclasses.dataclass(frozen=True)
class SoakPlan:
    warm_up: int
    requests: int
    every: int
    concurrency: int


FULL_PLAN = SoakPlan(warm_up=300, requests=5000, every=250, concurrency=16)
SMOKE_PLAN = SoakPlan(warm_up=20, requests=100, every=25, concurrency=8)


def soak_requests(mix: traffic.Mix, count: int) -> list[traffic.Request]:
    """count requests of the mix (their arrival times are not used: the soak is closed-loop)."""
    rate = 1000.0  # any rate: only how many fit in the window matters
    requests = traffic.schedule(mix, rate_per_s=rate, duration_s=2 * count / rate)
    while len(requests) < count:
        requests += requests
    return requests[:count]


def json_path(request: traffic.Request) -> str:
    return open_loop.generate_path(request).replace("stream=true", "stream=false")


async def leave_after_first_chunk(host: str, port: int, path: str) -> load.RequestTiming:
    """A client that reads the answer's head and first chunk, then hangs up."""
    sample = load.RequestTiming(started=0.0)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(load.request_bytes(host, port, path, None))
        status, _ = await load.read_head(reader)
        await reader.read(1024)
        sample.error = None if status == 200 else f"http:{status}"
    finally:
        writer.close()
    return sample


async def send(index: int, request: traffic.Request, host: str, port: int) -> load.RequestTiming:
    path = open_loop.generate_path(request)
    if index % LEAVER_EVERY == LEAVER_EVERY - 1:
        return await leave_after_first_chunk(host, port, path)
    stream = index % 2 == 0
    path = path if stream else json_path(request)
    return await load.one_request(host, port, path, stream=stream, clock=lambda: 0.0)


def workers_rss_mb(master_pid: int) -> float:
    workers = serving.worker_pids(master_pid)
    return sum(psutil.Process(pid).memory_info().rss for pid in workers) / MB


async def drive(url: str, requests, *, concurrency: int, on_done, timeout_s: float = 120.0):
    """Closed loop: `concurrency` clients take the next request as each finishes."""
    address = urlsplit(url)
    queue = iter(enumerate(requests))
    errors: dict[str, int] = {}

    async def client():
        for index, request in queue:
            try:
                job = send(index, request, address.hostname, address.port)
                sample = await asyncio.wait_for(job, timeout_s)
                error = sample.error
            except TimeoutError:
                error = "timeout"
            except (OSError, ValueError, KeyError, asyncio.IncompleteReadError) as failure:
                error = type(failure).__name__
            if error:
                errors[error] = errors.get(error, 0) + 1
            on_done()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return errors


def growth_pct(series: list[tuple[int, float]], since: int) -> float:
    """RSS growth in % from the reading at `since` requests (or the first after) to the last."""
    base = next(rss for done, rss in series if done >= since)
    return round((series[-1][1] - base) / base * 100, 2)


def run(*, serving_dir, plan: SoakPlan, mix: traffic.Mix) -> dict:
    requests = soak_requests(mix, plan.warm_up + plan.requests)
    started = time.monotonic()
    with serving.native_stack(serving_dir, serving.one_client({})) as stack:
        master = stack.uwsgi_pid
        warm_errors = asyncio.run(
            drive(stack.url, requests[: plan.warm_up], concurrency=plan.concurrency, on_done=int)
        )
        series = [(0, round(workers_rss_mb(master), 1))]
        done = 0

        def on_done():
            nonlocal done
            done += 1
            if done % plan.every == 0:
                series.append((done, round(workers_rss_mb(master), 1)))

        errors = asyncio.run(
            drive(
                stack.url,
                requests[plan.warm_up :],
                concurrency=plan.concurrency,
                on_done=on_done,
            )
        )
    seconds = time.monotonic() - started
    since = round(plan.requests * (1 - GROWTH_WINDOW))
    return {
        "model": serving_dir.name,
        "seconds": round(seconds, 1),
        "requests_per_s": round((plan.warm_up + plan.requests) / seconds, 2),
        "plan": dataclasses.asdict(plan),
        "mix": dataclasses.asdict(mix),
        "warm_up_errors": warm_errors,
        "errors": errors,
        "rss_mb": series,
        "growth_pct_last": growth_pct(series, since),
        "growth_window_requests": plan.requests - since,
        "growth_pct_all": growth_pct(series, 0),
    }
