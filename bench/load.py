"""A closed-loop HTTP load generator: N clients, each sends its next request when the last ends.

One asyncio thread drives every client over raw HTTP/1.1 (chunked or read-to-close bodies), so the
client costs little CPU on a machine it shares with the server. Streaming responses are
server-sent events: each token event is timestamped, which gives the time to first token and
tokens/s counted as tokens arrive.
"""

import asyncio
import codecs
import contextlib
import json
import time
from dataclasses import dataclass, field


@dataclass
class RequestTiming:
    """One request, times in seconds from the start of its level."""

    started: float
    first_token: float | None = None
    finished: float | None = None
    tokens: int = 0
    arrivals: list[tuple[float, int]] = field(default_factory=list)  # (time, tokens)
    error: str | None = None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0…100); None when there are no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


async def read_head(reader) -> tuple[int, dict[str, str]]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed before a status line")
    status = int(status_line.split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


async def body_pieces(reader, headers: dict[str, str]):
    """Yields the body as it arrives, decoding chunked transfer encoding."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                return
            yield await reader.readexactly(size)
            await reader.readexactly(2)
    else:
        while piece := await reader.read(65536):
            yield piece


def event_tokens(event: dict) -> tuple[int, int | None]:
    """(tokens in this event, total completion tokens if this is the final event)."""
    usage = event.get("usage")
    if isinstance(usage, dict):
        return 0, int(usage["completion_tokens"])
    count = event.get("tokens")
    return (count if isinstance(count, int) else 1), None


def record_events(sample: RequestTiming, text: str, now: float, count=event_tokens) -> str:
    """Consumes complete SSE events from text; returns the unconsumed rest. count(event) gives
    (tokens in the event, total completion tokens if it is the final event)."""
    *events, rest = text.split("\n\n")
    for raw in events:
        data = "".join(line[5:].strip() for line in raw.splitlines() if line.startswith("data:"))
        if not data or data == "[DONE]":
            continue
        event = json.loads(data)
        if "error" in event:
            sample.error = f"event:{event['error'].get('type', 'error')}"
            continue
        tokens, total = count(event)
        if total is not None:
            tokens = max(0, total - sample.tokens)  # the final usage is authoritative
        if tokens:
            sample.first_token = sample.first_token if sample.first_token else now
            sample.tokens += tokens
            sample.arrivals.append((now, tokens))
    return rest


def request_bytes(host: str, port: int, path: str, body: dict | None) -> bytes:
    """A GET of path, or a POST of body as JSON."""
    head = f"Host: {host}:{port}\r\nConnection: close\r\n"
    if body is None:
        return f"GET {path} HTTP/1.1\r\n{head}\r\n".encode("ascii")
    payload = json.dumps(body).encode("utf-8")
    head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    return f"POST {path} HTTP/1.1\r\n{head}\r\n".encode("ascii") + payload


async def one_request(
    host: str,
    port: int,
    path: str,
    *,
    stream: bool,
    clock,
    body: dict | None = None,
    count=event_tokens,
) -> RequestTiming:
    """One request (a POST when body is given); count reads a stream's events (record_events)."""
    sample = RequestTiming(started=clock())
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request_bytes(host, port, path, body))
        status, headers = await read_head(reader)
        pending, body = "", b""
        # A piece may end inside a multi-byte character: decode incrementally.
        decoder = codecs.getincrementaldecoder("utf-8")()
        async for piece in body_pieces(reader, headers):
            if stream and status == 200:
                text = pending + decoder.decode(piece)
                pending = record_events(sample, text, clock(), count)
            else:
                body += piece
        if status != 200:
            sample.error = f"http:{status}"
        elif not stream:
            now = clock()
            sample.tokens = int(json.loads(body)["usage"]["completion_tokens"])
            sample.first_token = now
            sample.arrivals.append((now, sample.tokens))
        sample.finished = clock()
    finally:
        writer.close()
    return sample


@dataclass
class Level:
    """Shared state of one level's clients."""

    clock: object
    deadline: float
    samples: list[RequestTiming] = field(default_factory=list)
    first_success: asyncio.Event = field(default_factory=asyncio.Event)
    unfinished: int = 0


async def client_loop(host, port, path, *, stream, timeout_s, level: Level) -> None:
    clock = level.clock
    while clock() < level.deadline:
        started = clock()
        try:
            request = one_request(host, port, path, stream=stream, clock=clock)
            sample = await asyncio.wait_for(request, timeout_s)
        except TimeoutError:
            sample = RequestTiming(started=started, error="timeout")
        except (OSError, ValueError, KeyError, asyncio.IncompleteReadError) as error:
            sample = RequestTiming(started=started, error=type(error).__name__)
        except asyncio.CancelledError:
            level.unfinished += 1
            raise
        level.samples.append(sample)
        if sample.error is None:
            level.first_success.set()


async def run_level(host, port, path, *, concurrency, duration_s, stream, timeout_s, drain):
    origin = time.perf_counter()
    level = Level(clock=lambda: time.perf_counter() - origin, deadline=duration_s)
    tasks = [
        asyncio.create_task(
            client_loop(host, port, path, stream=stream, timeout_s=timeout_s, level=level)
        )
        for _ in range(concurrency)
    ]
    if drain:
        await asyncio.gather(*tasks)
    else:
        # Time-bounded: stop at the deadline, but not before one request has completed, so
        # even a very slow server yields a rate; requests still running are abandoned.
        await asyncio.wait(tasks, timeout=duration_s)
        remaining = max(0.0, timeout_s - level.clock())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(level.first_success.wait(), remaining)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return level


def closed_loop(
    host: str,
    port: int,
    path: str,
    *,
    concurrency: int,
    duration_s: float,
    stream: bool,
    timeout_s: float,
    drain: bool = True,
) -> dict:
    """Keeps `concurrency` requests in flight for duration_s, then summarises.

    drain=True lets the requests running at the deadline finish (the server is then idle for
    the next level); drain=False abandons them (for servers so slow that a request takes a
    large part of the window: restart those between levels).
    """
    level = asyncio.run(
        run_level(
            host,
            port,
            path,
            concurrency=concurrency,
            duration_s=duration_s,
            stream=stream,
            timeout_s=timeout_s,
            drain=drain,
        )
    )
    summary = summarise(level.samples, concurrency=concurrency, window_s=duration_s, stream=stream)
    summary["unfinished"] = level.unfinished
    return summary


def summarise(samples: list[RequestTiming], *, concurrency: int, window_s: float, stream: bool):
    """Rates over the level's span; latencies cover every finished request.

    Streaming: the span is the window and tokens count as they arrive inside it, so requests
    that straddle the window's end count for what they delivered in time. Without streaming a
    request's tokens arrive at its end: the span runs to the last completed request.
    """
    done = [s for s in samples if s.error is None and s.finished is not None]
    span = window_s if stream else max((s.finished for s in done), default=window_s)
    tokens = sum(n for s in done for t, n in s.arrivals if t <= span)
    requests = sum(1 for s in done if s.finished <= span)
    errors: dict[str, int] = {}
    for sample in samples:
        if sample.error:
            errors[sample.error] = errors.get(sample.error, 0) + 1
    latency = [(s.finished - s.started) * 1000 for s in done]
    ttft = [(s.first_token - s.started) * 1000 for s in done if s.first_token is not None]

    def ms(values, q):
        value = percentile(values, q)
        return None if value is None else round(value, 1)

    return {
        "concurrency": concurrency,
        "seconds": round(span, 3),
        "requests": len(samples),
        "completed": len(done),
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "tokens": tokens,
        "tokens_per_s": round(tokens / span, 2),
        "requests_per_s": round(requests / span, 3),
        "tokens_per_request": round(sum(s.tokens for s in done) / len(done), 1) if done else 0,
        "latency_ms": {"p50": ms(latency, 50), "p95": ms(latency, 95), "p99": ms(latency, 99)},
        "ttft_ms": {"p50": ms(ttft, 50), "p95": ms(ttft, 95), "p99": ms(ttft, 99)},
    }
