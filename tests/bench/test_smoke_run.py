"""The whole benchmark runner, smoke-sized: real model CLI, real nginx + uWSGI stack, real
CTranslate2, the original gpt-2-simple designs under real uWSGI. Checks the result's shape and
that its figures are positive and consistent with each other, not how fast this machine is."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import workload
from bench.models import REPO_ROOT

OWN_SECTIONS = ("engine_ceiling", "serving", "original_designs")
OTHER_SECTIONS = ("api_ceiling", "prepare", "training")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench-smoke")
    command = [sys.executable, "-m", "bench", "--smoke", "--profile"]
    command += ["--data-dir", str(root / "data"), "--results", str(root / "results")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=280
    )
    results = sorted((root / "results").glob("*-smoke.json"))
    assert len(results) == 1, f"no result written:\n{done.stderr[-3000:]}"
    return done, json.loads(results[0].read_text())


def levels(result, section):
    return result["sections"][section]["result"]["levels"]


@pytest.mark.timeout(300)
def test_runner_succeeds_and_prints_the_table(smoke_run):
    done, result = smoke_run
    assert done.returncode == 0, done.stderr[-3000:]
    assert "### Targets" in done.stdout
    assert "### Serving: nginx → uWSGI → API (bench-tiny)" in done.stdout
    assert result["smoke"] is True
    assert result["model"]["hparams"]["n_layer"] == 2
    for name in OWN_SECTIONS:
        assert result["sections"][name]["status"] == "ok", result["sections"][name]
    # Other stages' entries may not have landed; when present they must have run.
    for name in OTHER_SECTIONS:
        assert result["sections"][name]["status"] in ("ok", "missing"), result["sections"][name]


def test_engine_ceiling_levels_are_consistent(smoke_run):
    _, result = smoke_run
    rows = levels(result, "engine_ceiling")
    assert [row["batch"] for row in rows] == list(workload.LEVELS)
    for row in rows:
        assert row["calls"] >= 1 and row["tokens_per_s"] > 0
        assert 0 < row["tokens"] <= row["calls"] * row["batch"] * workload.NEW_TOKENS
        assert row["tokens_per_s"] == pytest.approx(row["tokens"] / row["seconds"], rel=0.01)


def check_latencies(row):
    latency, ttft = row["latency_ms"], row["ttft_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    assert 0 < ttft["p50"] <= ttft["p95"] <= ttft["p99"]
    # Each request's first token comes before its end, so every percentile does too.
    assert ttft["p50"] <= latency["p50"] and ttft["p99"] <= latency["p99"]


def test_serving_levels_are_consistent(smoke_run):
    _, result = smoke_run
    rows = levels(result, "serving")
    expected = [(mode, c) for mode in ("stream", "json") for c in workload.LEVELS]
    assert [(row["mode"], row["concurrency"]) for row in rows] == expected
    for row in rows:
        assert row["errors"] == 0, row["errors_by_kind"]
        assert row["completed"] >= row["concurrency"]
        assert 0 < row["tokens_per_request"] <= workload.NEW_TOKENS
        assert row["tokens_per_s"] == pytest.approx(row["tokens"] / row["seconds"], rel=0.01)
        # (seconds are rounded to the millisecond, hence the slack)
        assert 0 <= row["requests_per_s"] <= 1.01 * row["completed"] / row["seconds"]
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
    targets = result["targets"]
    # The stack's eight, then those of other stages' entries present in this checkout.
    present = {name: result["sections"][name]["status"] == "ok" for name in OTHER_SECTIONS}
    assert len(targets) == 8 + 3 * present["api_ceiling"] + 2 * present["prepare"]
    for target in targets:
        assert target["passed"] in (True, False), target
        assert target["measured"] != "not measured"


def test_unknown_section_is_refused():
    command = [sys.executable, "-m", "bench", "--only", "serving,nonsense"]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown section nonsense" in done.stderr
