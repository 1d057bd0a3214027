"""GET/POST /generate over the tiny exported model (llama.cpp, float32 GGUF)."""

import json
import threading
import time

import pytest

from tests.api.conftest import service
from tests.fixtures.engine_pace import STEPPING_ENGINES, slowed


def generate(client, **params):
    response = client.post("/generate", json=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def texts(body):
    return [sample["text"] for sample in body["samples"]]


def test_response_shape_and_usage(client):
    body = generate(client, prefix="Ash and Pikachu", length=7, temperature=0)
    assert set(body) == {"model", "prefix", "samples", "usage", "timing_ms"}
    assert body["model"] == "tiny" and body["prefix"] == "Ash and Pikachu"
    [sample] = body["samples"]
    assert sample["finish_reason"] in {"length", "eos"}
    assert body["usage"]["completion_tokens"] == sample["tokens"] <= 7
    assert body["usage"]["prompt_tokens"] > 0
    assert set(body["timing_ms"]) == {"queue", "inference"}


def test_get_and_post_agree(client):
    got = client.get("/generate?prefix=The%20storm&length=6&temperature=0").get_json()
    posted = generate(client, prefix="The storm", length=6, temperature=0)
    assert texts(got) == texts(posted)


def test_greedy_is_repeatable_and_ignores_seed(client):
    first = generate(client, prefix="The harbour", length=12, temperature=0)
    again = generate(client, prefix="The harbour", length=12, temperature=0, seed=99)
    assert texts(first) == texts(again)


def test_same_seed_same_text_other_seed_other_text(client):
    params = {"prefix": "Once", "length": 20, "temperature": 1.0, "top_k": 50, "nsamples": 2}
    first = generate(client, seed=1234, **params)
    assert texts(first) == texts(generate(client, seed=1234, **params))
    assert texts(first) != texts(generate(client, seed=4321, **params))
    assert first["samples"][0]["text"] != first["samples"][1]["text"]


@pytest.mark.parametrize(
    "prefix", ["", "😀 emoji", "שלום עולם", "line one\nline two", "<|endoftext|>"]
)
def test_any_utf8_prefix(client, prefix):
    body = generate(client, prefix=prefix, length=3, temperature=0)
    assert body["prefix"] == prefix and len(body["samples"]) == 1


def test_stop_string_cuts_the_sample(client):
    free = generate(client, prefix="Ash", length=40, temperature=0)["samples"][0]
    cut_at = free["text"][3:6]
    assert cut_at, "the greedy continuation is too short to pick a stop string from"
    stopped = generate(client, prefix="Ash", length=40, temperature=0, stop=[cut_at])
    [sample] = stopped["samples"]
    assert sample["finish_reason"] == "stop"
    assert sample["text"] == free["text"][: free["text"].index(cut_at)]


def test_length_fills_the_context_exactly(client):
    prompt_tokens = generate(client, prefix="Ash", length=1)["usage"]["prompt_tokens"]
    room = 128 - prompt_tokens
    body = generate(client, prefix="Ash", length=room, temperature=0)
    assert body["samples"][0]["tokens"] <= room
    too_long = client.post("/generate", json={"prefix": "Ash", "length": room + 1})
    assert too_long.status_code == 400 and too_long.get_json()["error"]["param"] == "length"


@pytest.mark.timeout(300)
def test_concurrent_mixed_requests_match_alone(make_app):
    """32 requests at once, batched together, each get exactly their solo answer."""
    app = make_app(max_client_inflight=64)  # all 32 come from one address
    client = app.test_client()
    requests = []
    for number in range(32):
        params = {"prefix": f"Request {number} begins", "length": 8 + number % 5}
        if number % 2:
            params |= {"temperature": 0}
        else:
            params |= {
                "temperature": 0.8 + number / 40,
                "top_k": number % 3 * 20,
                "top_p": 0.9 if number % 4 else 1.0,
                "seed": number,
                "nsamples": 1 + number % 3,
            }
        if number % 7 == 0:
            params["stop"] = ["e"]
        requests.append(params)
    alone = [texts(generate(client, **params)) for params in requests]

    together = [None] * len(requests)
    barrier = threading.Barrier(len(requests))

    def send(index):
        barrier.wait()
        together[index] = texts(generate(app.test_client(), **requests[index]))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    steps_before, tokens_before = _engine_counts(app)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert together == alone
    steps_after, tokens_after = _engine_counts(app)
    # One by one, every token would take an engine step of its own.
    assert steps_after - steps_before < tokens_after - tokens_before


def _engine_counts(app) -> tuple[float, float]:
    """Engine steps so far, and tokens generated so far."""
    metrics = service(app).metrics
    steps = metrics.step_size.collect()[0].samples
    tokens = metrics.generated_tokens.collect()[0].samples
    return (
        next(s.value for s in steps if s.name == "ghost_step_sequences_count"),
        sum(s.value for s in tokens if s.name == "ghost_generated_tokens_total"),
    )


def read_events(raw: bytes) -> list[dict]:
    blocks = [b for b in raw.decode().split("\n\n") if b]
    assert all(b.startswith("data: ") for b in blocks), blocks
    return [json.loads(b[len("data: ") :]) for b in blocks]


def test_stream_events_then_final_event(client):
    params = {"prefix": "The keeper said", "length": 15, "temperature": 0}
    response = client.post("/generate", json={**params, "stream": True})
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = read_events(response.data)
    *chunks, final = events
    assert chunks and all(set(e) == {"index", "text"} and e["text"] for e in chunks)
    assert final["done"] is True and final["finish_reason"] in {"length", "eos"}
    assert final["usage"]["completion_tokens"] == final["samples"][0]["tokens"]
    assert "".join(e["text"] for e in chunks) == texts(generate(client, **params))[0]


def test_stream_by_get(client):
    response = client.get("/generate?prefix=Hi&length=4&temperature=0&stream=true")
    assert read_events(response.data)[-1]["usage"]["completion_tokens"] <= 4


def test_stream_with_several_samples_labels_each(client):
    params = {"prefix": "Hi", "length": 6, "temperature": 1, "seed": 3, "nsamples": 3}
    events = read_events(client.post("/generate", json={**params, "stream": True}).data)
    joined = ["".join(e["text"] for e in events[:-1] if e["index"] == i) for i in range(3)]
    assert joined == texts(generate(client, **params))
    assert [s["index"] for s in events[-1]["samples"]] == [0, 1, 2]


def test_a_stream_sends_what_came_meanwhile_at_most_once_per_interval(make_app, monkeypatch):
    # The tiny model writes 100 tokens inside a millisecond, faster than any interval: each
    # engine step is slowed to a real model's pace (2 ms) so that tokens come in between chunks.
    for engine_class in STEPPING_ENGINES:
        monkeypatch.setattr(engine_class, "step", slowed(engine_class, 0.002))
    interval = 0.02
    client = make_app(stream_interval_ms=interval * 1000).test_client()
    params = {"prefix": "The keeper said", "length": 100, "temperature": 1, "seed": 5}
    response = client.post("/generate", json={**params, "stream": True}, buffered=False)
    arrivals = []
    for piece in response.response:  # the app's own iterator: each event as it is made
        arrivals.append((time.monotonic(), piece))
    *chunks, final = read_events(b"".join(piece for _, piece in arrivals))
    assert 3 <= len(chunks) < final["usage"]["completion_tokens"]
    # The first token goes out at once, then what came meanwhile, one interval apart; the end
    # (the last chunk) is not held back.
    times = [at for at, _ in arrivals[: len(chunks) - 1]]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert all(gap >= 0.9 * interval for gap in gaps), gaps
    assert "".join(e["text"] for e in chunks) == texts(generate(client, **params))[0]


def test_streams_and_stop_string_requests_give_their_pacing_share_back(app, client):
    client.get("/generate?prefix=Hi&length=4&stream=true")
    client.get("/generate?prefix=Hi&length=4&stop=e")
    with client.get("/generate?prefix=Hi&length=50&stream=true", buffered=False) as left:
        next(left.response)  # a client that leaves after the first chunk
        assert service(app).pacer.streams_open == 1
    assert service(app).pacer.streams_open == 0
