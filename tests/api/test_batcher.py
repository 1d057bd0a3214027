"""The batcher's grouping, with a recording engine (the real engines are tested elsewhere)."""

import threading

from api.batcher import Batcher
from api.engines.base import Engine
from api.sampling import SamplingParams
from api.sequence import Finished, Request


class RecordingEngine(Engine):
    """Generates token 1 until each row's length; batches by temperature; blocks on `gate`."""

    name, n_ctx, n_vocab, eos_id = "recording", 64, 8, 7

    def __init__(self):
        self.batches: list[list[float]] = []
        self.gate = threading.Event()
        self.gate.set()

    def batch_key(self, params: SamplingParams):
        return params.temperature

    def generate(self, batch):
        self.gate.wait(30)
        self.batches.append([seq.params.temperature for seq in batch])
        for seq in batch:
            while not seq.push(1):
                pass

    def close(self):
        pass


def finished(request: Request) -> list:
    events = [request.events.get(timeout=30) for _ in range(len(request.sequences))]
    return [e.reason for e in events if isinstance(e, Finished)]


def test_requests_queued_together_share_batches_by_key_in_arrival_order():
    engine = RecordingEngine()
    engine.gate.clear()  # hold the first batch so the rest queue up behind it
    batcher = Batcher(engine, max_batch_size=3, max_wait_ms=1)
    try:
        first = Request([1], SamplingParams(length=2, temperature=0.5), eos_id=7, live=False)
        batcher.submit(first)
        assert first.started.wait(30)
        temperatures = [1.0, 0.5, 1.0, 1.0, 0.5, 1.0]
        queued = [
            Request([1], SamplingParams(length=2, temperature=t), eos_id=7, live=False)
            for t in temperatures
        ]
        for request in queued:
            batcher.submit(request)
        engine.gate.set()
        for request in [first, *queued]:
            assert finished(request) == ["length"]
        assert engine.batches == [[0.5], [1.0, 1.0, 1.0], [0.5, 0.5], [1.0]]
        assert batcher.queue_depth == 0
    finally:
        batcher.close()


def test_withdraw_takes_a_waiting_request_out():
    engine = RecordingEngine()
    engine.gate.clear()
    batcher = Batcher(engine, max_batch_size=1, max_wait_ms=1)
    try:
        running = Request([1], SamplingParams(length=1), eos_id=7, live=False)
        waiting = Request([1], SamplingParams(length=1, nsamples=2), eos_id=7, live=False)
        batcher.submit(running)
        assert running.started.wait(30)
        batcher.submit(waiting)
        assert batcher.withdraw(waiting) and batcher.queue_depth == 0
        assert not batcher.withdraw(running)  # already in the engine
        engine.gate.set()
        assert finished(running) == ["length"] and len(engine.batches) == 1
    finally:
        engine.gate.set()
        batcher.close()


def test_after_a_batch_ends_its_returning_clients_share_the_next_one():
    engine = RecordingEngine()
    batcher = Batcher(engine, max_batch_size=8, max_wait_ms=100)  # waits for returns: 1 s

    def request() -> Request:
        return Request([1], SamplingParams(length=1), eos_id=7, live=False)

    try:
        first_round = [request() for _ in range(3)]
        for r in first_round:
            batcher.submit(r)
        for r in first_round:
            assert finished(r) == ["length"]
        second_round = [request() for _ in range(3)]
        batcher.submit(second_round[0])
        # Longer than max_wait_ms without arrivals: alone, it would start now.
        assert not second_round[0].started.wait(0.25)
        for r in second_round[1:]:
            batcher.submit(r)
        for r in second_round:
            assert finished(r) == ["length"]
        assert [len(batch) for batch in engine.batches] == [3, 3]
    finally:
        batcher.close()
