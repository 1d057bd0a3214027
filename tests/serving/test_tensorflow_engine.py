"""The TensorFlow reference engine: slots, chunked prefill, banned ids, seeds, a fixed graph."""

import threading

import numpy as np
import pytest

from api import create_app
from serving.engines.base import Feed
from tests.api.conftest import LOAD_TIMEOUT_S, service

pytestmark = pytest.mark.timeout(300)

PREFIXES = ["Ash and Pikachu were", "", "The storm rolled in from the sea and", "😀 שלום\n"]


@pytest.fixture(scope="module")
def tf_app(tiny_checkpoint):
    app = create_app({"models_dir": tiny_checkpoint.models_dir, "engine": "tensorflow"})
    assert service(app).registry.wait_ready(LOAD_TIMEOUT_S), service(app).registry.load_error
    yield app
    service(app).registry.close()


def samples(client, **params):
    response = client.post("/generate", json=params)
    assert response.status_code == 200, response.get_json()
    return [(s["text"], s["finish_reason"], s["tokens"]) for s in response.get_json()["samples"]]


def test_serves_the_checkpoint_folder(tf_app):
    body = tf_app.test_client().get("/info").get_json()
    assert body["engine"] == "tensorflow" and body["model"] == "tiny"
    assert body["models"]["tiny"]["n_ctx"] == 128


def greedy_tokens(engine, prompt, chunk: int, count: int) -> list[int]:
    """Greedy continuation on slot 0, the prompt fed `chunk` tokens a step."""
    engine.open(0, temperature=0, top_k=0, top_p=1, seed=0)
    try:
        for start in range(0, len(prompt), chunk):
            piece = prompt[start : start + chunk]
            [token] = engine.step([Feed(0, piece, wants_token=start + chunk >= len(prompt))])
        tokens = [token]
        while len(tokens) < count:
            tokens += engine.step([Feed(0, [tokens[-1]], wants_token=True)])
        return tokens
    finally:
        engine.free(0)


def test_a_prompt_fed_in_chunks_continues_as_fed_at_once(tf_app):
    engine = service(tf_app).registry.models["tiny"].engine
    prompt = list(range(10, 27))
    assert greedy_tokens(engine, prompt, 3, 8) == greedy_tokens(engine, prompt, len(prompt), 8)


def test_banned_ids_are_never_sampled(tf_app, monkeypatch):
    engine = service(tf_app).registry.models["tiny"].engine
    prompt = [10, 11, 12]
    favourite = greedy_tokens(engine, prompt, 3, 1)[0]
    monkeypatch.setattr(engine, "banned", np.array([favourite]))
    assert greedy_tokens(engine, prompt, 3, 1)[0] != favourite


def test_greedy_matches_when_batched(tf_app):
    """Sequences that share engine steps match their solo runs."""
    client = tf_app.test_client()

    prefixes = ["one two three", "four five six", "seven eight nine"]
    alone = [samples(client, prefix=p, length=12, temperature=0) for p in prefixes]
    together = [None] * len(prefixes)

    def send(i):
        together[i] = samples(tf_app.test_client(), prefix=prefixes[i], length=12, temperature=0)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(prefixes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert together == alone


def test_seed_determinism_and_stop(tf_app):
    client = tf_app.test_client()
    params = {
        "prefix": "Once",
        "length": 20,
        "temperature": 1,
        "top_k": 40,
        "top_p": 0.9,
        "nsamples": 2,
        "seed": 11,
    }
    first = samples(client, **params)
    assert first == samples(client, **params)
    assert first != samples(client, **{**params, "seed": 12})
    stopped = samples(client, **{**params, "stop": [first[0][0][2:4]]})
    assert (
        stopped[0][1] == "stop"
        and stopped[0][0] == first[0][0][: first[0][0].index(first[0][0][2:4])]
    )


def test_graph_does_not_grow(tf_app):
    engine = service(tf_app).registry.models["tiny"].engine
    ops_before = len(engine.graph.get_operations())
    client = tf_app.test_client()
    for number in range(5):
        samples(client, prefix=f"call {number}", length=5, temperature=0.7)
    assert len(engine.graph.get_operations()) == ops_before
    assert engine.graph.finalized
