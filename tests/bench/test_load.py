"""The load client's pure parts: percentiles, SSE token accounting, and the level summary."""

import asyncio

import pytest

from bench.load import RequestTiming, one_request, percentile, record_events, summarise


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, None),
        ([7.0], 99, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
        ([4.0, 3.0, 2.0, 1.0], 95, 4.0),
        (list(map(float, range(1, 101))), 99, 99.0),
        (list(map(float, range(1, 101))), 50, 50.0),
    ],
)
def test_percentile_is_nearest_rank(values, q, expected):
    assert percentile(values, q) == expected


def test_events_count_tokens_and_the_final_usage_is_authoritative():
    sample = RequestTiming(started=0.0)
    events = 'data: {"text": "a"}\n\ndata: {"text": "b", "tokens": 2}\n\nda'
    rest = record_events(sample, events, 0.1)
    assert rest == "da"
    assert (sample.tokens, sample.first_token) == (3, 0.1)
    rest = record_events(sample, rest + 'ta: {"finish_reason": "length", "usage": {', 0.2)
    rest = record_events(sample, rest + '"completion_tokens": 5}}\n\ndata: [DONE]\n\n', 0.3)
    assert rest == ""
    assert sample.tokens == 5
    assert sample.arrivals == [(0.1, 1), (0.1, 2), (0.3, 2)]
    assert sample.error is None


def test_an_error_event_marks_the_request_failed():
    sample = RequestTiming(started=0.0)
    record_events(sample, 'data: {"error": {"type": "overloaded", "message": "busy"}}\n\n', 0.1)
    assert sample.error == "event:overloaded"


def finished(started, first, end, tokens):
    return RequestTiming(started, first, end, tokens, arrivals=[(first, tokens - 1), (end, 1)])


def test_streaming_summary_counts_only_tokens_that_arrived_inside_the_window():
    samples = [
        finished(0.0, 0.1, 1.0, 10),
        finished(1.0, 1.1, 2.5, 10),  # straddles the 2 s window: 9 tokens count
        RequestTiming(0.5, error="http:503"),
    ]
    summary = summarise(samples, concurrency=2, window_s=2.0, stream=True)
    assert summary["tokens"] == 19
    assert summary["tokens_per_s"] == 9.5
    assert summary["requests_per_s"] == 0.5  # one request finished inside the window
    assert (summary["completed"], summary["errors"]) == (2, 1)
    assert summary["errors_by_kind"] == {"http:503": 1}
    assert summary["latency_ms"]["p50"] == 1000.0
    assert summary["ttft_ms"]["p99"] == 100.0


def test_non_streaming_summary_runs_to_the_last_completion():
    samples = [finished(0.0, 4.0, 4.0, 64), finished(4.0, 8.0, 8.0, 64)]
    summary = summarise(samples, concurrency=1, window_s=5.0, stream=False)
    assert summary["seconds"] == 8.0
    assert summary["tokens_per_s"] == 16.0


def serve_once(chunks: list[bytes], *, chunked: bool):
    """A one-connection HTTP server on a free loopback port that answers with `chunks`."""

    async def answer(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        encoding = "Transfer-Encoding: chunked\r\n" if chunked else ""
        head = f"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n{encoding}\r\n"
        writer.write(head.encode())
        for chunk in chunks:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await writer.drain()
        if chunked:
            writer.write(b"0\r\n\r\n")
        writer.close()

    return asyncio.start_server(answer, "127.0.0.1", 0)


@pytest.mark.parametrize("chunked", [True, False])
def test_one_request_reads_a_stream_split_inside_a_character(chunked):
    events = 'data: {"text": "é"}\n\ndata: {"usage": {"completion_tokens": 2}}\n\n'.encode()
    split = events.index("é".encode()) + 1  # between the two bytes of é

    async def scenario():
        server = await serve_once([events[:split], events[split:]], chunked=chunked)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await one_request("127.0.0.1", port, "/generate", stream=True, clock=clock)

    clock = iter(range(100)).__next__
    sample = asyncio.run(scenario())
    assert sample.error is None
    assert sample.tokens == 2
    assert sample.first_token is not None and sample.finished > sample.first_token
