"""Sequence bookkeeping: what engines report, and how a row's end is told apart."""

from serving.sampling_params import SamplingParams
from serving.sequence import Finished, SequenceGroup, Token

EOS = 99


def drain(request) -> list:
    events = []
    while not request.events.empty():
        events.append(request.events.get_nowait())
    return events


def test_live_request_gets_every_token_then_the_end():
    request = SequenceGroup([1], SamplingParams(length=2), eos_id=EOS, live=True)
    [seq] = request.sequences
    assert seq.push(5) is False and seq.push(6) is True
    assert drain(request) == [Token(0, 5), Token(0, 6), Finished(0, "length")]


def test_other_requests_get_only_the_end_with_tokens_kept():
    request = SequenceGroup([1], SamplingParams(length=5), eos_id=EOS, live=False)
    [seq] = request.sequences
    assert seq.push(5) is False and seq.push(EOS) is True
    assert drain(request) == [Finished(0, "eos")] and seq.token_ids == [5]


def test_cancel_stops_at_the_next_token():
    request = SequenceGroup([1], SamplingParams(length=5, nsamples=2), eos_id=EOS)
    request.cancel()
    assert all(seq.push(3) for seq in request.sequences)
    assert all(seq.token_ids == [] for seq in request.sequences)


def test_a_halted_sequence_stops_at_its_next_token():
    request = SequenceGroup([1], SamplingParams(length=5, nsamples=2), eos_id=EOS, live=False)
    halted, going = request.sequences
    halted.halted = True
    assert halted.unwanted and not going.unwanted
    assert halted.push(3) is True and going.push(3) is False
    assert drain(request) == [Finished(0, "cancelled")]


def test_a_sequence_reserves_its_prompt_and_length():
    request = SequenceGroup([1, 2, 3], SamplingParams(length=5), eos_id=EOS)
    assert request.sequences[0].kv_tokens == 8
