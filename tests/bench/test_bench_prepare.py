"""The prepare benchmark's smoke run: real figures from a small generated corpus."""

import pytest

from bench import prepare


@pytest.mark.timeout(60)
def test_bench_prepare_smoke():
    result = prepare.run(size_mb=0.3)
    assert result["size_mb"] >= 0.3
    assert result["mb_per_s"] > 0 and 15 < result["peak_rss_mb"] < 1000
    # Every 50th file repeats the one before: the duplicates are found, nothing else dropped,
    # and the rest come out as documents (an empty result must not pass).
    assert result["files"] >= 100
    dropped = {reason: count for reason, count in result["dropped"].items() if count}
    assert dropped == {"duplicate": result["files"] // 50}
    assert result["documents"] == result["files"] - result["files"] // 50 > 0
    assert result["mb_per_s"] == pytest.approx(result["size_mb"] / result["seconds"], rel=0.1)
    assert len(result["targets"]) == 2
    assert all(isinstance(met, bool) for met in result["targets"].values())
