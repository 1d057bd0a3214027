"""Open-loop and soak targets: judged on their thresholds, from the figures."""

from bench import report

CAPACITY = 1000.0  # tokens/s: each rate's demand is its fraction of it
FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def rate(fraction, *, tokens_per_s, rejected=0, ttft_p99=100.0, tpot_p50=10.0):
    return {
        "fraction": fraction,
        "rate_per_s": 1.0,
        "demand_tokens_per_s": fraction * CAPACITY,
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


def server(rates, seeded=11.0, unseeded=10.0):
    return {"rates": rates, "tpot_ms_pooled": pooled(seeded, unseeded)}


def ours(rates, *, others=None, **tpots):
    """The stack's figures in bench.engines' shape: the served engine (onnx) on top."""
    return {"engine": "onnx", **server(rates, **tpots), "others": others or {}}


def result(ours, theirs, *, soak_growth=1.0, batch1_tokens_per_s=100.0):
    open_loop = {
        "model": "m",
        "capacity_tokens_per_s": CAPACITY,
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
    # The served engine's batch 1 sets the TPOT limit; llama.cpp's, beside it, must not.
    engine = {
        "engine": "onnx",
        "levels": [{"batch": 1, "tokens_per_s": batch1_tokens_per_s}],
        "others": {"llama": {"levels": [{"batch": 1, "tokens_per_s": 1000.0}]}},
    }
    return {
        "sections": {
            "open_loop": {"status": "ok", "result": open_loop},
            "soak": {"status": "ok", "result": soak},
            "engine_ceiling": {"status": "ok", "result": engine},
        }
    }


def verdicts(result):
    return {t["target"]: t["passed"] for t in report.evaluate_targets(result)}


def served_tokens(fraction):
    return f"open loop {fraction}: tokens/s ≥ min(2× llama-server, 95% of demand)"


TPOT = "open loop 50%: TPOT p50 ≤ 5× engine batch-1 time"
SEEDED = "seeded TPOT p50 ≤ 1.1× unseeded (all rates)"
SOAK = "soak: worker RSS growth < 2 % over the last requests"
# llama-server's tokens/s per rate: twice it is the floor at 50 % and above, 95 % of the
# demand (237.5) at 25 %.
THEIRS = ((0.25, 200.0), (0.5, 100.0), (0.75, 300.0), (1.0, 400.0))
FLOORS = (237.5, 200.0, 600.0, 800.0)


def test_open_loop_targets_pass_exactly_on_their_thresholds():
    mine = ours(
        [
            rate(0.25, tokens_per_s=FLOORS[0]),
            rate(0.5, tokens_per_s=FLOORS[1], ttft_p99=300.0, tpot_p50=50.0),  # 5 × 10 ms
            rate(0.75, tokens_per_s=FLOORS[2], ttft_p99=1000.0),
            rate(1.0, tokens_per_s=FLOORS[3]),
        ]
    )
    theirs = server([rate(f, tokens_per_s=t, ttft_p99=9000.0) for f, t in THEIRS])
    got = verdicts(result(mine, theirs))
    assert got["open loop 50% of capacity: 0 rejections"] is True
    assert got["open loop 50% of capacity: TTFT p99 ≤ 300 ms"] is True
    assert got["open loop 75% of capacity: 0 rejections"] is True
    assert got["open loop 75% of capacity: TTFT p99 ≤ 1000 ms"] is True
    assert got[TPOT] is True
    assert got[SEEDED] is True
    for fraction in ("25%", "50%", "75%", "100%"):
        assert got[served_tokens(fraction)] is True
    assert got[SOAK] is True


def test_open_loop_targets_miss_just_past_their_thresholds():
    mine = ours(
        [
            rate(0.25, tokens_per_s=FLOORS[0] - 0.1),
            rate(0.5, tokens_per_s=FLOORS[1], rejected=1, ttft_p99=300.1, tpot_p50=50.1),
            rate(0.75, tokens_per_s=FLOORS[2] - 0.1, rejected=1, ttft_p99=1000.1),
            rate(1.0, tokens_per_s=FLOORS[3] - 0.1, ttft_p99=None),
        ],
        seeded=11.1,
    )
    theirs = server([rate(f, tokens_per_s=t) for f, t in THEIRS])
    got = verdicts(result(mine, theirs, soak_growth=2.0))
    assert got["open loop 50% of capacity: 0 rejections"] is False
    assert got["open loop 50% of capacity: TTFT p99 ≤ 300 ms"] is False
    assert got["open loop 75% of capacity: 0 rejections"] is False
    assert got["open loop 75% of capacity: TTFT p99 ≤ 1000 ms"] is False
    assert got[TPOT] is False
    assert got[SEEDED] is False
    assert got[served_tokens("25%")] is False
    assert got[served_tokens("50%")] is True
    assert got[served_tokens("75%")] is False
    assert got[served_tokens("100%")] is False
    assert got[SOAK] is False


def test_the_other_engine_stands_beside_the_served_one():
    llama = server([rate(f, tokens_per_s=123.0) for f in FRACTIONS])
    mine = ours([rate(f, tokens_per_s=900.0) for f in FRACTIONS], others={"llama": llama})
    theirs = server([rate(f, tokens_per_s=100.0) for f in FRACTIONS])
    figures = result(mine, theirs)
    targets = {t["target"]: t for t in report.evaluate_targets(figures)}
    assert targets[served_tokens("25%")]["note"] == "llama: 123"
    table = "\n".join(report.section_lines("open_loop", figures["sections"]["open_loop"]["result"]))
    assert table.count("| ghostwriter (onnx) |") == 4
    assert table.count("| ghostwriter (llama) |") == 4
    assert table.count("| llama-server |") == 4
    assert "served engine onnx" in table


def test_a_skipped_llama_server_is_unjudged_with_its_reason():
    mine = ours([rate(f, tokens_per_s=100.0) for f in FRACTIONS])
    skipped = {"skipped": "llama-server did not build: cmake … exited 2"}
    targets = report.evaluate_targets(result(mine, skipped))
    row = next(t for t in targets if "llama-server" in t["target"])
    assert (row["passed"], row["measured"]) == (None, "skipped")
    assert "did not build" in row["note"]
    figures = result(mine, skipped)["sections"]["open_loop"]["result"]
    table = "\n".join(report.section_lines("open_loop", figures))
    assert "llama-server skipped: llama-server did not build" in table
    assert table.count("| ghostwriter (onnx) |") == 4


def test_a_whole_answer_in_one_chunk_has_no_ratio_but_is_still_judged():
    rates = [rate(f, tokens_per_s=100.0) for f in FRACTIONS]
    theirs = server(rates)
    for seeded, expected in ((0.0, True), (0.1, False)):
        got = verdicts(result(ours(rates, seeded=seeded, unseeded=0.0), theirs))
        assert got[SEEDED] is expected
