"""Sequence bookkeeping: what engines report, and how a row's end is told apart."""

from api.engines.ctranslate2_engine import _push_all
from api.request_parsing import SamplingParams
from api.sequence import Finished, Request, Token

EOS = 99


def drain(request) -> list:
    events = []
    while not request.events.empty():
        events.append(request.events.get_nowait())
    return events


def test_live_request_gets_every_token_then_the_end():
    request = Request([1], SamplingParams(length=2), eos_id=EOS, live=True)
    [seq] = request.sequences
    assert seq.push(5) is False and seq.push(6) is True
    assert drain(request) == [Token(0, 5), Token(0, 6), Finished(0, "length")]


def test_other_requests_get_only_the_end_with_tokens_kept():
    request = Request([1], SamplingParams(length=5), eos_id=EOS, live=False)
    [seq] = request.sequences
    assert seq.push(5) is False and seq.push(EOS) is True
    assert drain(request) == [Finished(0, "eos")] and seq.token_ids == [5]


def test_cancel_stops_at_the_next_token():
    request = Request([1], SamplingParams(length=5, nsamples=2), eos_id=EOS)
    request.cancel()
    assert all(seq.push(3) for seq in request.sequences)
    assert all(seq.token_ids == [] for seq in request.sequences)


def test_push_all_tells_length_from_end_token():
    short = Request([1], SamplingParams(length=4), eos_id=EOS, live=False)
    _push_all(short.sequences[0], [7, 8], eos_id=EOS)  # the row ended early: end token
    assert drain(short) == [Finished(0, "eos")]
    full = Request([1], SamplingParams(length=2), eos_id=EOS, live=False)
    _push_all(full.sequences[0], [7, 8, 9, 10], eos_id=EOS)  # batch ran longer than this row
    assert drain(full) == [Finished(0, "length")] and full.sequences[0].token_ids == [7, 8]
