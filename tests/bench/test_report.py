"""Targets are judged from the measured figures: pass, miss, or not measured."""

from bench import report


def stack_level(concurrency, tokens_per_s, ttft_p50, total_rss):
    return {
        "concurrency": concurrency,
        "tokens_per_s": tokens_per_s,
        "ttft_ms": {"p50": ttft_p50},
        "memory": {"total": {"rss_mb": total_rss, "pss_mb": total_rss - 50}},
    }


def result(serving_levels):
    original = {"levels": [{"concurrency": 8, "tokens_per_s": 10.0}]}
    return {
        "sections": {
            "serving": {"status": "ok", "result": {"model": "m", "levels": serving_levels}},
            "engine_ceiling": {
                "status": "ok",
                "result": {
                    "levels": [
                        {"batch": 1, "tokens_per_s": 100.0},
                        {"batch": 32, "tokens_per_s": 1000.0},
                    ]
                },
            },
            "original_designs": {
                "status": "ok",
                "result": {"reload_per_request": original, "load_once": original},
            },
        }
    }


def verdicts(targets):
    return {t["target"]: t["passed"] for t in targets}


def test_targets_pass_and_miss_on_the_thresholds():
    levels = [
        stack_level(1, 85.0, 100.0, 600.0),  # exactly on every threshold: pass
        stack_level(8, 99.0, 150.0, 500.0),  # 9.9× the originals: miss
        stack_level(32, 849.0, 300.0, 601.0),  # 84.9 % of the ceiling, 601 MB: miss
    ]
    got = verdicts(report.evaluate_targets(result(levels)))
    assert got["c1 ≥ 85% of engine batch-1 tokens/s"] is True
    assert got["c32 ≥ 85% of engine batch-32 tokens/s"] is False
    assert got["c1 time to first token ≤ 100 ms (p50)"] is True
    assert got["whole stack ≤ 600 MB RSS"] is False
    assert got["c8 ≥ 10× reload_per_request at c8"] is False
    assert got["c32 ≥ 10× load_once at c8"] is True


def test_failed_sections_leave_targets_unjudged():
    empty = {"sections": {"serving": {"status": "failed", "error": "Traceback …"}}}
    targets = report.evaluate_targets(empty)
    # The stack's eight, three closed-loop, one for the open loop, one for the soak.
    assert len(targets) == 13
    assert all(t["passed"] is None and t["measured"] == "not measured" for t in targets)


def test_a_foreign_result_of_another_shape_is_reported_not_fatal():
    figures = {"status": "ok", "result": {"mb_per_s": 3.0}}  # no peak_rss_mb, no size_mb
    broken = {"sections": {"prepare": figures}, "smoke": True, "started_at": "now"}
    targets = report.evaluate_targets(broken)
    assert targets[-1]["passed"] is None and "unreadable" in targets[-1]["measured"]
    lines = report.section_lines("prepare", figures["result"])
    assert "| mb_per_s | 3.0 |" in lines


def test_engine_targets_divide_by_the_serving_engine_not_the_reference():
    levels = [stack_level(1, 85.0, 100.0, 600.0), stack_level(32, 849.0, 300.0, 500.0)]
    figures = result(levels)
    engine = figures["sections"]["engine_ceiling"]["result"]
    # llama.cpp, the serving engine, is slower than the CTranslate2 reference at batch 32.
    engine["llama"] = {"threads": 2, "levels": [dict(row) for row in engine["levels"]]}
    engine["llama"]["levels"][1]["tokens_per_s"] = 998.0
    got = verdicts(report.evaluate_targets(figures))
    assert got["c32 ≥ 85% of engine batch-32 tokens/s"] is True  # 849 of 998
    assert got["c1 ≥ 85% of engine batch-1 tokens/s"] is True
