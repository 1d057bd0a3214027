"""The scheduler over the real TensorFlow engine (tiny model): joining, leaving, cancellation,
seeds across batch mates, KV-budget admission, fair order among clients."""

import threading

import pytest

from serving.sampling_params import SamplingParams
from serving.scheduler import Scheduler
from serving.sequence import Failed, Finished, SequenceGroup, Token

pytestmark = pytest.mark.timeout(180)

NO_EOS = -1  # the end token counts as text here, so lengths are exact
WAIT_S = 60


@pytest.fixture(scope="module")
def engines(tiny_base):
    """engines(max_slots, kv_tokens) → a TensorFlow engine over the tiny checkpoint, shared."""
    from serving.engines.tensorflow_engine import TensorFlowEngine

    made = {}

    def engine(max_slots: int = 4, kv_tokens: int = 4096):
        key = (max_slots, kv_tokens)
        if key not in made:
            made[key] = TensorFlowEngine(tiny_base.path, max_slots=max_slots, kv_tokens=kv_tokens)
        return made[key]

    yield engine
    for engine in made.values():
        engine.close()


class Steps:
    """Counts engine steps and lets a test wait for a number of them."""

    def __init__(self):
        self.count = 0
        self._changed = threading.Condition()

    def __call__(self, size: int) -> None:
        with self._changed:
            self.count += 1
            self._changed.notify_all()

    def wait_for(self, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.count >= count, WAIT_S), self.count


@pytest.fixture
def schedule(engines):
    """schedule(max_slots=…, kv_tokens=…, prefill_chunk=…) → (scheduler, steps); closed after."""
    made = []

    def make(*, max_slots=4, kv_tokens=4096, prefill_chunk=64):
        steps = Steps()
        scheduler = Scheduler(
            engines(max_slots, kv_tokens), prefill_chunk=prefill_chunk, on_step=steps
        )
        made.append(scheduler)
        return scheduler, steps

    yield make
    for scheduler in made:
        scheduler.close()


def request(length=8, *, prompt=(5, 6, 7), client="", live=False, **params) -> SequenceGroup:
    return SequenceGroup(
        list(prompt),
        SamplingParams(length=length, **params),
        eos_id=NO_EOS,
        live=live,
        client=client,
    )


def ends(req: SequenceGroup) -> list[str]:
    """Waits for every sample's end; its reasons, in sample order."""
    reasons = {}
    while len(reasons) < len(req.sequences):
        event = req.events.get(timeout=WAIT_S)
        assert not isinstance(event, Failed), event.error
        if isinstance(event, Finished):
            reasons[event.index] = event.reason
    return [reasons[index] for index in sorted(reasons)]


def first_token(req: SequenceGroup) -> None:
    assert isinstance(req.events.get(timeout=WAIT_S), Token)


def test_a_request_joins_a_running_one_and_leaves_before_it(schedule):
    scheduler, _ = schedule()
    long = request(length=120, live=True)
    scheduler.submit(long)
    first_token(long)
    short = request(length=3)
    scheduler.submit(short)
    assert ends(short) == ["length"]
    assert not long.sequences[0].finished and long.sequences[0].generated < 120
    assert ends(long) == ["length"] and long.sequences[0].generated == 120
    assert scheduler.active == 0 and scheduler.queue_depth == 0


def test_a_finished_sequence_frees_its_slot_for_the_next(schedule):
    scheduler, _ = schedule(max_slots=1)
    first, second = request(length=4), request(length=4, temperature=0)
    scheduler.submit(first)
    scheduler.submit(second)
    assert ends(first) == ["length"] and ends(second) == ["length"]
    assert first.started_at < second.started_at
    assert [s.generated for s in (first.sequences[0], second.sequences[0])] == [4, 4]


def test_a_cancelled_sequence_leaves_within_a_step(schedule):
    scheduler, steps = schedule(max_slots=1)
    running, waiting = request(length=120, live=True), request(length=2)
    scheduler.submit(running)
    first_token(running)
    scheduler.submit(waiting)
    assert not waiting.started.is_set()  # the only slot is taken
    running.cancel()
    cancelled_at = steps.count
    assert waiting.started.wait(WAIT_S)
    assert steps.count <= cancelled_at + 2
    assert ends(waiting) == ["length"]
    assert running.sequences[0].generated < 120


def test_a_stop_string_seen_by_the_reader_frees_the_slot(schedule):
    scheduler, _ = schedule(max_slots=1)
    running = request(length=120, live=True)
    scheduler.submit(running)
    first_token(running)
    running.sequences[0].halted = True
    assert "cancelled" in ends(running)
    assert running.sequences[0].generated < 120 and scheduler.active == 0


def tokens(req: SequenceGroup) -> list[list[int]]:
    ends(req)
    return [sequence.token_ids for sequence in req.sequences]


def test_a_seed_gives_the_same_text_whatever_its_batch_mates(schedule):
    seeded = {"length": 30, "temperature": 1.0, "top_k": 0, "seed": 1234, "nsamples": 2}
    scheduler, steps = schedule(max_slots=4)
    alone = request(**seeded)
    scheduler.submit(alone)
    alone_tokens = tokens(alone)
    assert alone_tokens[0] != alone_tokens[1]  # each sample its own stream
    before = request(length=40, temperature=0.7, top_k=40, prompt=(9, 10, 11, 12, 13))
    scheduler.submit(before)
    steps.wait_for(steps.count + 3)  # joins mid-generation of another
    mated = request(**seeded)
    scheduler.submit(mated)
    after = request(length=10, temperature=1.5, top_p=0.5, seed=1234)
    scheduler.submit(after)
    assert tokens(mated) == alone_tokens
    ends(before), ends(after)


def test_running_slots_stay_packed_and_a_moved_sequence_writes_the_same(schedule, monkeypatch):
    scheduler, _ = schedule(max_slots=4)
    seeded = {"temperature": 1.0, "top_k": 0, "seed": 42}
    alone = request(length=30, **seeded)
    scheduler.submit(alone)
    alone_tokens = tokens(alone)
    slots_per_step = []
    step = scheduler.engine.step

    def recording_step(feeds):
        slots_per_step.append(sorted(feed.slot for feed in feeds))
        return step(feeds)

    monkeypatch.setattr(scheduler.engine, "step", recording_step)
    # Slots 0-2 end early; the seeded request, started in slot 3, moves down to slot 0.
    short = [request(length=n, temperature=0.8, seed=n) for n in (3, 5, 8)]
    for each in short:
        scheduler.submit(each)
    moved = request(length=30, **seeded)
    scheduler.submit(moved)
    assert tokens(moved) == alone_tokens
    for each in short:
        ends(each)
    assert [0, 1, 2, 3] in slots_per_step  # the seeded one started in slot 3
    assert all(slots == list(range(len(slots))) for slots in slots_per_step), slots_per_step
    assert slots_per_step[-1] == [0]


def test_unseeded_requests_get_a_seed_drawn(schedule):
    scheduler, _ = schedule()
    first, second = request(length=30, temperature=1.0), request(length=30, temperature=1.0)
    scheduler.submit(first)
    scheduler.submit(second)
    assert first.seed is not None and first.seed != second.seed
    assert tokens(first) != tokens(second)


def test_a_long_prompt_is_prefilled_in_chunks_beside_decoding(schedule):
    scheduler, steps = schedule(prefill_chunk=8)
    decoding = request(length=100, live=True)
    scheduler.submit(decoding)
    first_token(decoding)
    long_prompt = request(length=2, prompt=range(1, 41), temperature=0)  # 40 tokens: 5 chunks
    scheduler.submit(long_prompt)
    started = steps.count
    assert ends(long_prompt) == ["length"]
    assert steps.count - started >= 5
    # The decoding sequence went on meanwhile: at least one token per chunk.
    assert decoding.sequences[0].generated >= 5
    decoding.cancel()
    greedy_alone = request(length=2, prompt=range(1, 41), temperature=0)
    scheduler.submit(greedy_alone)
    assert tokens(greedy_alone) == [long_prompt.sequences[0].token_ids]


def test_a_prompt_is_cut_at_the_same_places_whatever_else_is_prefilling(schedule, monkeypatch):
    """Chunks of prefill_chunk tokens from the prompt's start: a neighbour that took part of a
    step's prompt budget delays a chunk, it does not cut it shorter."""
    scheduler, _ = schedule(prefill_chunk=8)
    cuts = {"first": [], "second": []}
    step = scheduler.engine.step

    def recording_step(feeds):
        for feed in feeds:
            if len(feed.token_ids) > 1:  # a prompt chunk (these prompts cut into 8, 8 and 4)
                cuts["first" if feed.token_ids[0] < 100 else "second"].append(len(feed.token_ids))
        return step(feeds)

    monkeypatch.setattr(scheduler.engine, "step", recording_step)
    first = request(length=2, prompt=range(1, 21), temperature=0)
    second = request(length=2, prompt=range(101, 121), temperature=0)
    scheduler.submit(first)
    scheduler.submit(second)
    assert ends(first) == ends(second) == ["length"]
    assert cuts == {"first": [8, 8, 4], "second": [8, 8, 4]}


def test_admission_waits_for_kv_room(schedule):
    # Each request reserves 3 prompt + 30 length = 33 cells; 40 hold one at a time.
    scheduler, _ = schedule(max_slots=4, kv_tokens=40)
    first, second = request(length=30, live=True), request(length=30)
    scheduler.submit(first)
    first_token(first)
    scheduler.submit(second)
    assert scheduler.queue_depth == 1 and not second.started.is_set()
    assert ends(first) == ["length"]
    assert ends(second) == ["length"] and second.started_at >= first.sequences[0].token_times[-1]


def test_withdraw_takes_a_waiting_request_out(schedule):
    scheduler, _ = schedule(max_slots=1)
    running, waiting = request(length=120, live=True), request(length=2, nsamples=2)
    scheduler.submit(running)
    first_token(running)
    scheduler.submit(waiting)
    assert scheduler.withdraw(waiting) and scheduler.queue_depth == 0
    assert not scheduler.withdraw(running)  # already in the engine
    assert ends(running) == ["length"]


def test_waiting_clients_take_turns(schedule):
    scheduler, _ = schedule(max_slots=1)
    running = request(length=120, live=True, client="a")
    scheduler.submit(running)
    first_token(running)
    burst = [request(length=2, client="a") for _ in range(3)]
    for req in burst:
        scheduler.submit(req)
    latecomer = request(length=2, client="b")
    scheduler.submit(latecomer)
    for req in [running, *burst, latecomer]:
        ends(req)
    order = sorted([*burst, latecomer], key=lambda req: req.started_at)
    assert order == [burst[0], latecomer, burst[1], burst[2]]


def test_a_failed_step_fails_its_sequences_and_the_loop_goes_on(schedule, monkeypatch):
    scheduler, _ = schedule(max_slots=2)
    engine, real = scheduler.engine, scheduler.engine.step
    failures = [RuntimeError("decode failed")]

    def failing_once(feeds):
        if failures:
            raise failures.pop()
        return real(feeds)

    monkeypatch.setattr(engine, "step", failing_once)
    failed = request(length=4, nsamples=2)
    scheduler.submit(failed)
    events = [failed.events.get(timeout=WAIT_S) for _ in range(2)]
    assert all(isinstance(event, Failed) for event in events)
    after = request(length=4)
    scheduler.submit(after)
    assert ends(after) == ["length"]
    assert after.sequences[0].generated == 4
