"""The open-loop client's pure parts: request encodings for both servers, the per-rate summary,
the soak's growth figure, and the driver against a loopback server that answers on a schedule."""

import asyncio
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from bench import llama_server, load, open_loop, soak, traffic


def request(seed=None, **changes):
    values = dict(
        at=0.0, prompt="The old keeper", length=40, temperature=0.7, top_k=0, top_p=0.9, seed=seed
    )
    return traffic.Request(**(values | changes))


def test_generate_path_carries_every_setting_and_the_seed_only_when_given():
    query = parse_qs(urlsplit(open_loop.generate_path(request(seed=7))).query)
    assert query == {
        "prefix": ["The old keeper"],
        "length": ["40"],
        "temperature": ["0.7"],
        "top_k": ["0"],
        "top_p": ["0.9"],
        "stream": ["true"],
        "seed": ["7"],
    }
    assert "seed" not in parse_qs(urlsplit(open_loop.generate_path(request())).query)


def test_llama_server_body_samples_as_the_api_does():
    body = llama_server.completion_body(request(seed=7))
    assert body == {
        "prompt": "The old keeper",
        "n_predict": 40,
        "temperature": 0.7,
        "top_k": 0,
        "top_p": 0.9,
        "min_p": 0.0,
        "seed": 7,
        "stream": True,
    }
    assert llama_server.completion_body(request())["seed"] == -1  # its "random" seed


def test_llama_server_events_carry_the_tokens_generated_so_far():
    sample = load.RequestTiming(started=0.0)
    text = 'data: {"content": "The", "stop": false, "tokens_predicted": 1}\n\n'
    text += 'data: {"content": "", "stop": false, "tokens_predicted": 2}\n\n'
    load.record_events(sample, text, 0.5, llama_server.event_tokens)
    last = 'data: {"content": " old", "stop": true, "tokens_predicted": 4}\n\n'
    assert load.record_events(sample, last, 0.7, llama_server.event_tokens) == ""
    assert sample.tokens == 4 and sample.first_token == 0.5
    assert sample.arrivals == [(0.5, 1), (0.5, 1), (0.7, 2)]


def answered(started, first, finished, tokens):
    return load.RequestTiming(started, first, finished, tokens, arrivals=[(first, tokens)])


def test_rate_summary_charges_the_backlog_and_splits_seeded_requests():
    requests = [request(), request(seed=1), request(), request()]
    samples = [
        answered(0.0, 0.1, 1.1, 11),  # 100 ms per token after the first
        answered(0.5, 0.7, 2.7, 11),  # seeded: 200 ms per token
        load.RequestTiming(1.0, error="http:503"),
        load.RequestTiming(1.5, error="timeout"),
    ]
    row = open_loop.summarise_rate(requests, samples)
    assert (row["requests"], row["completed"], row["rejected"], row["errors"]) == (4, 2, 1, 2)
    assert row["errors_by_kind"] == {"http:503": 1, "timeout": 1}
    assert row["seconds"] == 2.7 and row["tokens"] == 22
    assert row["tokens_per_s"] == pytest.approx(22 / 2.7, abs=0.01)
    assert row["ttft_ms"]["p99"] == pytest.approx(200.0)
    assert row["tpot_ms_seeded"] == {
        "p50": pytest.approx(200.0),
        "p99": pytest.approx(200.0),
        "count": 1,
    }
    assert row["tpot_ms_unseeded"]["p50"] == pytest.approx(100.0)
    assert row["latency_ms"]["p50"] == pytest.approx(1100.0)


def test_a_rate_with_no_answer_serves_nothing():
    row = open_loop.summarise_rate([request()], [load.RequestTiming(0.0, error="http:503")])
    assert (row["tokens_per_s"], row["seconds"], row["ttft_ms"]["p50"]) == (0.0, None, None)


def test_soak_growth_is_measured_from_the_reading_at_the_window_start():
    series = [(0, 400.0), (1000, 410.0), (2000, 420.0), (3000, 421.0), (5000, 424.2)]
    assert soak.growth_pct(series, 2000) == 1.0
    assert soak.growth_pct(series, 1500) == 1.0  # the first reading at or after it
    assert soak.growth_pct(series, 0) == 6.05


def test_soak_requests_are_as_many_as_asked_and_one_in_twenty_leaves():
    requests = soak.soak_requests(soak.SMOKE_SOAK_MIX, 120)
    assert len(requests) == 120
    assert all(1 <= r.length <= 16 for r in requests)
    leavers = [i for i in range(120) if i % soak.LEAVER_EVERY == soak.LEAVER_EVERY - 1]
    assert len(leavers) == 6


@pytest.mark.timeout(30)
def test_requests_are_sent_at_their_arrival_times_not_when_earlier_ones_end():
    """A server that holds every answer for 0.5 s: an open-loop client still sends on time."""
    sent: list[float] = []

    async def answer(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        sent.append(time.perf_counter())
        await asyncio.sleep(0.5)
        events = b'data: {"text": "a"}\n\ndata: {"usage": {"completion_tokens": 1}}\n\n'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n" + events)
        writer.close()

    async def scenario():
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        schedule = [request(at=at) for at in (0.0, 0.1, 0.2, 0.3)]
        async with server:
            started = time.perf_counter()
            samples = await open_loop.drive(open_loop.ghostwriter_sender(url), schedule, 5.0)
        return started, samples

    started, samples = asyncio.run(scenario())
    assert [s.error for s in samples] == [None] * 4
    offsets = [at - started for at in sent]
    assert offsets == pytest.approx([0.0, 0.1, 0.2, 0.3], abs=0.08)
    assert all(s.finished - s.started >= 0.5 for s in samples)
