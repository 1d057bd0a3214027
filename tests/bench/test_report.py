"""Targets are judged from the measured figures: pass, miss, or not measured."""

from bench import report


def stack_level(concurrency, tokens_per_s, ttft_p50, total_rss, mode="stream"):
    return {
        "mode": mode,
        "concurrency": concurrency,
        "tokens_per_s": tokens_per_s,
        "ttft_ms": {"p50": ttft_p50},
        "memory": {"total": {"rss_mb": total_rss, "pss_mb": total_rss - 50}},
    }


def ceiling(batch1, batch32):
    return {
        "levels": [{"batch": 1, "tokens_per_s": batch1}, {"batch": 32, "tokens_per_s": batch32}]
    }


def engine_ceiling(*, onnx=(110.0, 2000.0), llama=(100.0, 1000.0), ctranslate2=(90.0, 2000.0)):
    """bench.engines' shape: the served engine (onnx) on top, the others beside."""
    return {
        "engine": "onnx",
        **ceiling(*onnx),
        "others": {"llama": ceiling(*llama), "ctranslate2": ceiling(*ctranslate2)},
    }


def result(serving_levels, *, ceiling_figures=None, others=None):
    original = {"levels": [{"concurrency": 8, "tokens_per_s": 10.0}]}
    serving = {"engine": "onnx", "model": "m", "levels": serving_levels, "others": others or {}}
    return {
        "sections": {
            "serving": {"status": "ok", "result": serving},
            "engine_ceiling": {"status": "ok", "result": ceiling_figures or engine_ceiling()},
            "original_designs": {
                "status": "ok",
                "result": {"reload_per_request": original, "load_once": original},
            },
        }
    }


def verdicts(targets):
    return {t["target"]: t["passed"] for t in targets}


ONNX_VS_LLAMA_32 = "engine ceiling batch 32: ONNX Runtime ≥ 2× llama.cpp"
ONNX_VS_CT2_32 = "engine ceiling batch 32: ONNX Runtime ≥ 1× CTranslate2"
ONNX_VS_LLAMA_1 = "engine ceiling batch 1: ONNX Runtime ≥ 1.1× llama.cpp"


def test_engine_ceiling_targets_pass_on_their_thresholds_and_miss_past_them():
    got = verdicts(report.evaluate_targets(result([])))
    assert (got[ONNX_VS_LLAMA_32], got[ONNX_VS_CT2_32], got[ONNX_VS_LLAMA_1]) == (True, True, True)
    short = engine_ceiling(onnx=(109.9, 1999.9))
    got = verdicts(report.evaluate_targets(result([], ceiling_figures=short)))
    assert (got[ONNX_VS_LLAMA_32], got[ONNX_VS_CT2_32], got[ONNX_VS_LLAMA_1]) == (
        False,
        False,
        False,
    )


def test_closed_loop_targets_pass_and_miss_on_the_thresholds():
    levels = [
        stack_level(1, 93.5, 50.0, 600.0),  # 85 % of 110, TTFT on its limit: pass
        stack_level(8, 99.0, 150.0, 500.0),  # 9.9× the originals: miss
        stack_level(32, 1699.0, 300.0, 1000.0),  # 84.95 % of 2000: miss; 1000 MB: pass
        stack_level(32, 1700.0, None, 1001.0, mode="json"),  # 85 %: pass; 1001 MB: miss
    ]
    got = verdicts(report.evaluate_targets(result(levels)))
    assert got["closed loop c1 stream ≥ 85% of engine batch-1 tokens/s"] is True
    assert got["closed loop c32 stream ≥ 85% of engine batch-32 tokens/s"] is False
    assert got["closed loop c32 json ≥ 85% of engine batch-32 tokens/s"] is True
    assert got["closed loop c1 time to first token p50 ≤ 50 ms"] is True
    assert got["whole stack at 32 active sequences ≤ 1000 MB RSS"] is False
    assert got["c8 ≥ 10× reload_per_request at c8"] is False
    assert got["c32 ≥ 10× load_once at c8"] is True


def test_failed_sections_leave_targets_unjudged():
    empty = {"sections": {"serving": {"status": "failed", "error": "Traceback …"}}}
    targets = report.evaluate_targets(empty)
    # Three engine ceiling, three closed loop, TTFT, memory, open loop, soak, four originals.
    assert len(targets) == 14
    assert all(t["passed"] is None and t["measured"] == "not measured" for t in targets)


def test_a_foreign_result_of_another_shape_is_reported_not_fatal():
    figures = {"status": "ok", "result": {"mb_per_s": 3.0}}  # no peak_rss_mb, no size_mb
    broken = {"sections": {"prepare": figures}, "smoke": True, "started_at": "now"}
    targets = report.evaluate_targets(broken)
    assert targets[-1]["passed"] is None and "unreadable" in targets[-1]["measured"]
    lines = report.section_lines("prepare", figures["result"])
    assert "| mb_per_s | 3.0 |" in lines


def test_closed_loop_divides_by_the_served_engines_own_ceiling():
    # Served by llama.cpp (GHOST_ENGINE=llama): its 1000 at batch 32, not ONNX's 2000.
    figures = result([stack_level(32, 850.0, 300.0, 500.0, mode="json")])
    figures["sections"]["serving"]["result"]["engine"] = "llama"
    got = verdicts(report.evaluate_targets(figures))
    assert got["closed loop c32 json ≥ 85% of engine batch-32 tokens/s"] is True


def test_the_other_engines_figures_stand_beside_the_served_ones():
    llama = {"engine": "llama", "levels": [stack_level(32, 500.0, 300.0, 700.0, mode="json")]}
    levels = [stack_level(32, 1800.0, 300.0, 900.0, mode="json")]
    figures = result(levels, others={"llama": {**llama, "model": "m"}})
    targets = {t["target"]: t for t in report.evaluate_targets(figures)}
    c32 = targets["closed loop c32 json ≥ 85% of engine batch-32 tokens/s"]
    assert c32["passed"] is True and "llama: 50% of 1000" in c32["note"]
    memory = targets["whole stack at 32 active sequences ≤ 1000 MB RSS"]
    assert memory["passed"] is True and "llama: 700 MB" in memory["note"]


def test_results_before_the_onnx_engine_still_read():
    # CTranslate2 on top, llama.cpp (then served) beside it, no engine named.
    old = {**ceiling(90.0, 2000.0), "llama": {**ceiling(100.0, 1000.0), "threads": 2}}
    figures = result([stack_level(32, 850.0, 300.0, 500.0)], ceiling_figures=old)
    del figures["sections"]["serving"]["result"]["engine"]
    got = verdicts(report.evaluate_targets(figures))
    assert got["closed loop c32 stream ≥ 85% of engine batch-32 tokens/s"] is True
    assert got[ONNX_VS_LLAMA_32] is None  # not measured then
