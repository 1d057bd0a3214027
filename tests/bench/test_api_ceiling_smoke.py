"""bench/api_ceiling.py's smoke run on the tiny model: it runs and reports every figure, on
whichever engine the API serves with (GHOST_ENGINE)."""

import pytest

from bench import api_ceiling, engines


@pytest.mark.timeout(300)
@pytest.mark.parametrize("engine", engines.STEP_ENGINES)
def test_smoke_run_reports_both_batches_and_rss(tiny_serving_model_int8, monkeypatch, engine):
    monkeypatch.setenv("GHOST_ENGINE", engine)
    result = api_ceiling.run(model_dir=tiny_serving_model_int8.path, smoke=True)
    assert [level["batch"] for level in result["levels"]] == [1, 32]
    for level in result["levels"]:
        assert level["raw_tokens_per_s"] > 0 and level["api_tokens_per_s"] > 0
        assert len(level["pairs"]) == 2
    assert 0 < result["worker_rss_mb"] < api_ceiling.RSS_TARGET_MB
    # Both sides ran the API's own engine with the API's own settings.
    assert result["engine"] == result["settings"]["engine"] == engine
    assert int(result["settings"]["max_slots"]) >= api_ceiling.BATCHES[-1]
    assert isinstance(result["meets_targets"], bool)
