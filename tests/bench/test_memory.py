"""bench.memory's sampler: RSS at every sample, PSS (a page-table walk) only now and then."""

import os
import time

from bench import memory


def test_pss_is_read_at_both_ends_and_then_only_every_pss_interval(monkeypatch):
    asked = []

    def group_memory(pids, *, pss):
        asked.append(pss)
        return 100.0 + len(asked), (80.0 if pss else None)

    monkeypatch.setattr(memory, "group_memory", group_memory)
    sampler = memory.PeakMemory({"server": [1]}, interval_s=0.01, pss_interval_s=3600)
    with sampler:
        time.sleep(0.2)
    assert len(asked) > 4
    assert asked[0] and asked[-1]
    assert not any(asked[1:-1])
    peaks = sampler.peaks()
    assert peaks["server"] == {"rss_mb": 100.0 + len(asked), "pss_mb": 80.0}
    assert peaks["total"] == peaks["server"]


def test_the_peak_holds_memory_freed_before_the_block_ends():
    rss_before, pss_before = memory.group_memory([os.getpid()])
    sampler = memory.PeakMemory({"me": [os.getpid()]}, interval_s=0.01, pss_interval_s=0.02)
    with sampler:
        blob = b"x" * (64 * memory.MB)  # every page written, so resident
        time.sleep(0.1)
        del blob
    peaks = sampler.peaks()["me"]
    assert peaks["rss_mb"] >= rss_before + 60
    assert peaks["pss_mb"] >= pss_before + 60
