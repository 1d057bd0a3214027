"""The whole benchmark runner, smoke-sized: real model CLI, real nginx + uWSGI stack on each
step engine (ONNX Runtime, llama.cpp), real CTranslate2, the original gpt-2-simple designs
under real uWSGI. Checks the result's shape and
that its figures are positive and consistent with each other, not how fast this machine is."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import engines, llama_server, open_loop, quality_corpora, soak, traffic, workload
from bench.__main__ import SECTIONS, SMOKE_REQUESTS_PER_RATE
from bench.models import REPO_ROOT
from model.native_logs import is_noise


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench-smoke")
    command = [sys.executable, "-m", "bench", "--smoke", "--profile"]
    command += ["--data-dir", str(root / "data"), "--results", str(root / "results")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    results = sorted((root / "results").glob("*-smoke.json"))
    assert len(results) == 1, f"no result written:\n{done.stderr[-3000:]}"
    return done, json.loads(results[0].read_text())


@pytest.mark.timeout(620)
def test_runner_succeeds_and_prints_the_table(smoke_run):
    done, result = smoke_run
    assert done.returncode == 0, done.stderr[-3000:]
    assert "### Targets" in done.stdout
    assert "### Serving: nginx → uWSGI → API (bench-tiny)" in done.stdout
    assert result["smoke"] is True
    assert result["model"]["hparams"]["n_layer"] == 2
    assert list(result["sections"]) == list(SECTIONS)
    for name, section in result["sections"].items():
        assert section["status"] == "ok", (name, section)


def test_the_console_shows_no_native_start_up_lines(smoke_run):
    # TensorFlow runs inside the bench process for the quality section's scoring.
    done, _ = smoke_run
    noise = [line for line in done.stderr.splitlines() if is_noise(line.encode(), min_level=2)]
    assert not noise, noise


SECONDS_ROUNDING = 0.0005  # rows give seconds to the millisecond, rates from the unrounded span


def assert_rate_is_tokens_over_seconds(row):
    # A smoke rate can span 20 ms, where the rounding alone moves tokens / seconds by 2.5 %.
    tokens, seconds = row["tokens"], row["seconds"]
    fastest, slowest = tokens / (seconds - SECONDS_ROUNDING), tokens / (seconds + SECONDS_ROUNDING)
    assert 0.999 * slowest <= row["tokens_per_s"] <= 1.001 * fastest, row


def by_engine(result, section) -> dict[str, dict]:
    """Every engine's figures of a section (bench.engines' shape), the served one checked."""
    figures = result["sections"][section]["result"]
    assert figures["engine"] == engines.served()
    measured = engines.all_figures(figures)
    assert all(engine["seconds"] > 0 for engine in measured.values())  # each engine's time
    return measured


def test_engine_ceiling_levels_are_consistent(smoke_run):
    _, result = smoke_run
    measured = by_engine(result, "engine_ceiling")
    assert set(measured) == {*engines.STEP_ENGINES, engines.REFERENCE}
    for name, figures in measured.items():
        rows = figures["levels"]
        assert [row["batch"] for row in rows] == list(workload.LEVELS), name
        for row in rows:
            assert row["calls"] >= 1 and row["tokens_per_s"] > 0
            assert 0 < row["tokens"] <= row["calls"] * row["batch"] * workload.NEW_TOKENS
            assert_rate_is_tokens_over_seconds(row)
    # Each step engine ran with the API's slots and KV budget, at least one slot per sequence.
    for name in engines.STEP_ENGINES:
        assert measured[name]["max_slots"] >= max(workload.LEVELS)
        assert measured[name]["kv_tokens"] > 0 and measured[name]["kv_type"]


def check_latencies(row):
    latency, ttft = row["latency_ms"], row["ttft_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    assert 0 < ttft["p50"] <= ttft["p95"] <= ttft["p99"]
    # Each request's first token comes before its end, so every percentile does too.
    assert ttft["p50"] <= latency["p50"] and ttft["p99"] <= latency["p99"]


def test_serving_levels_are_consistent(smoke_run):
    _, result = smoke_run
    measured = by_engine(result, "serving")
    assert set(measured) == set(engines.STEP_ENGINES)
    for name, figures in measured.items():
        assert figures["app_env"]["GHOST_ENGINE"] == name
        check_serving_levels(figures["levels"])


def check_serving_levels(rows):
    expected = [(mode, c) for mode in ("stream", "json") for c in workload.LEVELS]
    assert [(row["mode"], row["concurrency"]) for row in rows] == expected
    for row in rows:
        assert row["errors"] == 0, row["errors_by_kind"]
        assert row["completed"] >= row["concurrency"]
        assert 0 < row["tokens_per_request"] <= workload.NEW_TOKENS
        assert_rate_is_tokens_over_seconds(row)
        fastest = row["completed"] / (row["seconds"] - SECONDS_ROUNDING)
        assert 0 <= row["requests_per_s"] <= fastest + 0.001  # (rounded to 3 decimals)
        check_latencies(row)
        rss = {name: peak["rss_mb"] for name, peak in row["memory"].items()}
        assert rss["worker"] > 0 and rss["nginx"] > 0
        assert rss["total"] >= max(rss["uwsgi"], rss["nginx"])
        assert rss["uwsgi"] >= rss["worker"]
        # py-spy sampled the worker's threads during the level, stacks kept beside the result.
        profile = row["profile"]
        assert profile.get("samples", 0) > 0, profile
        assert Path(profile["raw"]).is_file()
        for group in profile["threads"].values():
            # Shares are rounded to 0.001 each.
            assert sum(share for _, share in group["top"]) <= 1.0 + 0.0005 * len(group["top"])


def test_original_designs_completed_requests(smoke_run):
    _, result = smoke_run
    designs = result["sections"]["original_designs"]["result"]
    for design in ("reload_per_request", "load_once"):
        rows = designs[design]["levels"]
        assert [row["concurrency"] for row in rows] == list(workload.ORIGINAL_LEVELS)
        for row in rows:
            assert row["completed"] >= 1 and row["errors"] == 0, row
            # gpt-2-simple has no early stop: every request yields exactly `length` tokens.
            assert row["tokens_per_request"] == workload.NEW_TOKENS
            assert row["tokens_per_s"] > 0 and row["memory"]["rss_mb"] > 0
            check_latencies(row)


def test_every_target_is_judged(smoke_run):
    _, result = smoke_run
    for target in result["targets"]:
        if "llama-server" in target["target"] and target["measured"] == "skipped":
            continue  # a smoke run uses llama-server only once a full run has built it
        assert target["passed"] in (True, False), target
        assert target["measured"] != "not measured"


def test_quality_trains_and_scores_on_both_corpora(smoke_run):
    _, result = smoke_run
    figures = result["sections"]["quality"]["result"]
    assert list(figures["corpora"]) == list(quality_corpora.CORPORA)
    for name, corpus in figures["corpora"].items():
        default = corpus["cases"]["default"]
        assert list(corpus["cases"]) == ["default"], name
        assert default["val_chars"] == corpus["val_chars"] > 1000
        assert 0 < default["val_tokens"] < default["val_chars"]
        # A few seconds of training leaves the model near random: far from 0, under ln(512).
        assert 0.5 < default["nats_per_char"] < 6.3
        assert default["steps"] >= 1 and default["stop_reason"] == "time budget"
        assert default["finetune"]["lr_schedule"] == "cosine"
        assert default["samples_judged"] == 8 and len(default["samples"]) == 3
        assert 0 <= default["blank_run_share"] <= 1


def check_rate(row, requests):
    assert row["requests"] == len(requests) == SMOKE_REQUESTS_PER_RATE
    assert row["errors"] == 0, row["errors_by_kind"]
    assert row["completed"] == row["requests"] and row["tokens_per_s"] > 0
    lengths = sum(r.length for r in requests)
    assert 0 < row["tokens"] <= lengths
    assert_rate_is_tokens_over_seconds(row)
    # The last answer comes after the last arrival.
    assert row["seconds"] >= max(r.at for r in requests)
    ttft, tpot, latency = row["ttft_ms"], row["tpot_ms"], row["latency_ms"]
    assert 0 < ttft["p50"] <= ttft["p99"] <= latency["p99"]
    # The tiny model writes a token in well under 0.1 ms on llama-server: its p50 may round to 0.
    assert 0 <= tpot["p50"] <= tpot["p99"] <= latency["p99"]
    assert tpot["count"] == row["tpot_ms_seeded"]["count"] + row["tpot_ms_unseeded"]["count"]


def test_open_loop_rates_are_consistent(smoke_run):
    _, result = smoke_run
    figures = result["sections"]["open_loop"]["result"]
    ours = engines.all_figures(figures["ghostwriter"])
    assert figures["ghostwriter"]["engine"] == engines.served()
    assert set(ours) == set(engines.STEP_ENGINES)
    assert all(engine["seconds"] > 0 for engine in ours.values())
    servers = list(ours.values())
    if llama_server.binary_path().is_file():
        servers.append(figures["llama_server"])
    else:
        assert "not built" in figures["llama_server"]["skipped"]
    plan = open_loop.rate_plan(
        figures["capacity_tokens_per_s"],
        traffic.SMOKE_MIX,
        duration_s=None,
        count=SMOKE_REQUESTS_PER_RATE,
    )
    for server in servers:
        assert [row["fraction"] for row in server["rates"]] == list(open_loop.FRACTIONS)
        for row, rate in zip(server["rates"], plan, strict=True):
            check_rate(row, rate["requests"])
        pooled = server["tpot_ms_pooled"]
        assert pooled["seeded"]["count"] > 0 and pooled["unseeded"]["count"] > 0


def test_soak_reads_the_worker_memory_along_the_way(smoke_run):
    _, result = smoke_run
    figures = result["sections"]["soak"]["result"]
    plan = soak.SMOKE_PLAN
    assert figures["errors"] == {} and figures["warm_up_errors"] == {}
    done = [count for count, _ in figures["rss_mb"]]
    assert done == list(range(0, plan.requests + 1, plan.every))
    assert all(rss > 0 for _, rss in figures["rss_mb"])
    assert figures["growth_window_requests"] == round(plan.requests * soak.GROWTH_WINDOW)


def test_unknown_section_is_refused():
    command = [sys.executable, "-m", "bench", "--only", "serving,nonsense"]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown section nonsense" in done.stderr
