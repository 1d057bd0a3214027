"""Open-loop, closed-loop and soak targets: judged on their thresholds, from the figures."""

import pytest

from bench import report


def rate(fraction, *, tokens_per_s, rejected=0, ttft_p99=100.0, tpot_p50=10.0):
    return {
        "fraction": fraction,
        "rate_per_s": 1.0,
        "demand_tokens_per_s": 100.0,
        "requests": 50,
        "completed": 50 - rejected,
        "rejected": rejected,
        "tokens_per_s": tokens_per_s,
        "ttft_ms": {"p50": 50.0, "p99": ttft_p99},
        "tpot_ms": {"p50": tpot_p50, "p99": 2 * tpot_p50},
        "tpot_ms_seeded": {"p50": tpot_p50, "p99": tpot_p50, "count": 5},
        "tpot_ms_unseeded": {"p50": tpot_p50, "p99": tpot_p50, "count": 45},
    }


def pooled(seeded, unseeded):
    return {
        "seeded": {"p50": seeded, "p99": seeded, "count": 20},
        "unseeded": {"p50": unseeded, "p99": unseeded, "count": 180},
    }


def result(ours, theirs, *, soak_growth=1.0, batch1_tokens_per_s=100.0):
    open_loop = {
        "model": "m",
        "capacity_tokens_per_s": 1000.0,
        "duration_s": 40.0,
        "mix": {"lengths": [16, 256]},
        "ghostwriter": ours,
        "llama_server": theirs,
    }
    soak = {
        "growth_pct_last": soak_growth,
        "growth_pct_all": 3.0,
        "growth_window_requests": 3000,
        "plan": {"requests": 5000},
    }
    engine = {"levels": [{"batch": 1, "tokens_per_s": batch1_tokens_per_s}]}
    return {
        "sections": {
            "open_loop": {"status": "ok", "result": open_loop},
            "soak": {"status": "ok", "result": soak},
            "engine_ceiling": {"status": "ok", "result": engine},
        }
    }


def verdicts(result):
    return {t["target"]: t["passed"] for t in report.evaluate_targets(result)}


def server(rates, seeded=12.0, unseeded=10.0):
    return {"rates": rates, "tpot_ms_pooled": pooled(seeded, unseeded)}


def test_open_loop_targets_pass_exactly_on_their_thresholds():
    ours = server(
        [
            rate(0.25, tokens_per_s=250.0),
            rate(0.5, tokens_per_s=500.0, ttft_p99=300.0, tpot_p50=20.0),  # 2 × 10 ms
            rate(0.75, tokens_per_s=750.0, ttft_p99=1000.0),
            rate(1.0, tokens_per_s=900.0),
        ]
    )
    # Equal to llama-server is enough: its tokens/s at 25 and 50 %, its TTFT p99 at 75 %.
    pairs = ((0.25, 250.0), (0.5, 500.0), (0.75, 700.0), (1.0, 800.0))
    theirs = server([rate(f, tokens_per_s=t, ttft_p99=1000.0) for f, t in pairs])
    got = verdicts(result(ours, theirs))
    assert got["open loop 50% of capacity: 0 rejections"] is True
    assert got["open loop 50% of capacity: TTFT p99 ≤ 300 ms"] is True
    assert got["open loop 75% of capacity: TTFT p99 ≤ 1000 ms"] is True
    assert got["open loop 50%: TPOT p50 ≤ 2× engine batch-1"] is True
    assert got["seeded TPOT p50 ≤ 1.2× unseeded (all rates)"] is True
    for fraction in ("25%", "50%", "75%", "100%"):
        assert got[f"open loop {fraction}: ≥ llama-server tokens/s, ≤ its TTFT p99"] is True
    assert got["soak: worker RSS growth < 2 % over the last requests"] is True


def test_open_loop_targets_miss_just_past_their_thresholds():
    ours = server(
        [
            rate(0.25, tokens_per_s=249.0),
            rate(0.5, tokens_per_s=500.0, rejected=1, ttft_p99=300.1, tpot_p50=20.1),
            rate(0.75, tokens_per_s=750.0, ttft_p99=1000.1),
            rate(1.0, tokens_per_s=900.0, ttft_p99=None),
        ],
        seeded=12.1,
    )
    theirs = server([rate(f, tokens_per_s=250.0, ttft_p99=2000.0) for f in (0.25, 0.5, 0.75, 1.0)])
    got = verdicts(result(ours, theirs, soak_growth=2.0))
    assert got["open loop 50% of capacity: 0 rejections"] is False
    assert got["open loop 50% of capacity: TTFT p99 ≤ 300 ms"] is False
    assert got["open loop 75% of capacity: TTFT p99 ≤ 1000 ms"] is False
    assert got["open loop 50%: TPOT p50 ≤ 2× engine batch-1"] is False
    assert got["seeded TPOT p50 ≤ 1.2× unseeded (all rates)"] is False
    assert got["open loop 25%: ≥ llama-server tokens/s, ≤ its TTFT p99"] is False
    assert got["open loop 50%: ≥ llama-server tokens/s, ≤ its TTFT p99"] is True
    # No answer at all has no TTFT: that is never as good as llama-server's.
    assert got["open loop 100%: ≥ llama-server tokens/s, ≤ its TTFT p99"] is False
    assert got["soak: worker RSS growth < 2 % over the last requests"] is False


def test_a_skipped_llama_server_is_unjudged_with_its_reason():
    ours = server([rate(f, tokens_per_s=100.0) for f in (0.25, 0.5, 0.75, 1.0)])
    skipped = {"skipped": "llama-server did not build: cmake … exited 2"}
    targets = report.evaluate_targets(result(ours, skipped))
    row = next(t for t in targets if "llama-server" in t["target"])
    assert (row["passed"], row["measured"]) == (None, "skipped")
    assert "did not build" in row["note"]
    figures = result(ours, skipped)["sections"]["open_loop"]["result"]
    table = "\n".join(report.section_lines("open_loop", figures))
    assert "llama-server skipped: llama-server did not build" in table
    assert table.count("| ghostwriter |") == 4


def json_level(concurrency, tokens_per_s, p50):
    return {
        "mode": "json",
        "concurrency": concurrency,
        "tokens_per_s": tokens_per_s,
        "latency_ms": {"p50": p50},
        "memory": {"total": {"rss_mb": 500.0, "pss_mb": 400.0}},
    }


@pytest.mark.parametrize(
    ("one", "many", "expected"),
    [
        ((137.0, 500.0), (724.0, 1000.0), (True, True, True)),
        ((136.9, 500.0), (723.9, 1000.1), (False, False, False)),
    ],
)
def test_closed_loop_targets_are_judged_on_plain_json(one, many, expected):
    serving = {"model": "m", "levels": [json_level(1, *one), json_level(32, *many)]}
    got = verdicts({"sections": {"serving": {"status": "ok", "result": serving}}})
    names = ("closed loop c1 ≥ 137 tokens/s", "closed loop c32 ≥ 724 tokens/s")
    names += ("closed loop c32 p50 latency ≤ 2× c1",)
    assert tuple(got[name] for name in names) == expected


def test_a_whole_answer_in_one_chunk_has_no_ratio_but_is_still_judged():
    rates = [rate(f, tokens_per_s=100.0) for f in (0.25, 0.5, 0.75, 1.0)]
    theirs = server(rates)
    for seeded, expected in ((0.0, True), (0.1, False)):
        got = verdicts(result(server(rates, seeded=seeded, unseeded=0.0), theirs))
        assert got["seeded TPOT p50 ≤ 1.2× unseeded (all rates)"] is expected
