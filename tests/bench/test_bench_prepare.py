"""The prepare benchmark's smoke run: real figures from a small generated corpus."""

import pytest

from bench import prepare


@pytest.mark.timeout(60)
def test_bench_prepare_smoke():
    result = prepare.run(size_mb=0.3)
    assert result["size_mb"] >= 0.3
    assert result["mb_per_s"] > 0 and 15 < result["peak_rss_mb"] < 1000
    # Every 50th file repeats the one before: the duplicates are found, nothing else dropped.
    assert result["dropped"]["duplicate"] == result["files"] // 50
    assert result["documents"] == result["files"] - result["dropped"]["duplicate"]
    assert set(result["targets"].values()) <= {True, False}
