"""`make demo`, shortened, end to end: sample site → crawl → prepare → init → fine-tune → evaluate →
export → nginx + uWSGI serving the page and the API. Everything real, offline, on loopback."""

import json
import os
import re
import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest
import requests

from model.export import DEFAULT_WEIGHTS

ROOT = Path(__file__).resolve().parents[2]
SERVING_LINE = re.compile(r"Serving \S+ at (http://\S+?)/? ")
# What a newcomer reads as "something went wrong" (TensorFlow's E0000 … lines included).
ERROR_LOOKING = re.compile(r"(?i)\b(error|failed|traceback|warning)\b|^[EWF]\d{4} ")

EXPORTED_BEST = re.compile(r"exporting the best checkpoint \(step \d+: lowest validation loss")
SEPARATOR_PIECE = re.compile(r"<\||\|>|endoftext")  # fillers are <|unusedN|>
# The fields of frontend/index.html as the page opens.
PAGE_DEFAULTS = {"length": 100, "temperature": 0.7, "top_k": 40, "top_p": 0.9}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stage_output(log: list[str]) -> list[str]:
    """The pipeline's lines: crawl to export's report (the servers' start-up output follows)."""
    end = next(n for n, line in enumerate(log) if line.startswith("exported "))
    return log[: end + 1]


def wait_for_url(process: subprocess.Popen, log: list[str]) -> str | None:
    """Reads the demo's output until it prints where it serves; None if it ended first."""
    for line in process.stdout:
        log.append(line)
        match = SERVING_LINE.search(line)
        if match:
            return match.group(1)
    return None


@pytest.mark.timeout(600)
def test_shortened_demo_serves_a_trained_model(tmp_path):
    data_dir = tmp_path / "data"
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = ["make", "-s", "demo", f"DATA_DIR={data_dir}", f"PORT={port}", "MINUTES=0.3"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    log: list[str] = []
    try:
        url = wait_for_url(process, log)
        assert url, "the demo ended without serving:\n" + "".join(log[-40:])
        alarming = [line for line in stage_output(log) if ERROR_LOOKING.search(line)]
        assert not alarming, "".join(alarming)
        # Which checkpoint is served, and why.
        assert [line for line in log if EXPORTED_BEST.match(line)], "".join(stage_output(log))
        assert process.stdout.readline().startswith(f"Try: curl '{url}/generate?prefix=")
        # Keep draining the output so the servers never block on a full pipe.
        threading.Thread(target=lambda: log.extend(process.stdout), daemon=True).start()

        run = data_dir / "checkpoint" / "sample"
        assert json.loads((run / "run.json").read_text())["base"] == "sample-base"
        assert (run / "eval.json").is_file() and (run / "loss.png").is_file()
        meta = json.loads((data_dir / "serving" / "sample" / "meta.json").read_text())
        assert meta["run"] == "sample" and meta["quantization"] == DEFAULT_WEIGHTS
        assert meta["eval"] is not None and meta["dataset"] is not None

        page = requests.get(f"{url}/", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
        reply = requests.get(
            f"{url}/generate", params={"prefix": "Ash and Pikachu", "length": 12, "seed": 1},
            timeout=30,
        )  # fmt: skip
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["model"] == "sample" and body["prefix"] == "Ash and Pikachu"
        assert body["samples"][0]["text"] and body["usage"]["completion_tokens"] > 0
        for seed in (1, 2, 3):  # what the page asks for by default, three seeded times
            params = {"prefix": "Ash and Pikachu", **PAGE_DEFAULTS, "seed": seed}
            answer = requests.get(f"{url}/generate", params=params, timeout=60).json()
            text = answer["samples"][0]["text"]
            assert not SEPARATOR_PIECE.search(text), text
            assert "\n\n\n" not in text, text  # no run of empty lines
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/healthz", timeout=5)
