"""The chunk interval of streams: a floor for one stream, a shared budget for many."""

import pytest

from serving.pacing import StreamPacer


def open_streams(pacer: StreamPacer, count: int) -> StreamPacer:
    for _ in range(count):
        pacer.opened()
    return pacer


def test_a_lone_stream_gets_the_floor():
    assert open_streams(StreamPacer(0.05, chunks_per_s=200), 1).interval() == 0.05


@pytest.mark.parametrize(("streams", "interval"), [(10, 0.05), (32, 0.16), (64, 0.32)])
def test_many_streams_share_the_chunk_budget(streams, interval):
    pacer = open_streams(StreamPacer(0.05, chunks_per_s=200), streams)
    assert pacer.interval() == pytest.approx(interval)
    assert streams / pacer.interval() <= 200 + 1e-9


def test_closed_streams_give_their_share_back():
    pacer = open_streams(StreamPacer(0.05, chunks_per_s=200), 32)
    for _ in range(31):
        pacer.closed()
    assert pacer.interval() == 0.05


def test_no_floor_means_every_token_whatever_the_load():
    assert open_streams(StreamPacer(0.0, chunks_per_s=200), 64).interval() == 0.0
