"""Schemathesis fuzzes the whole stack (nginx → uWSGI → app) from /openapi.json with all its
checks: valid requests are served, invalid ones refused with a documented JSON error, never a 500,
and every answer matches the document."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# Cases per operation and phase (schemathesis's coverage phase adds its boundary values); a fixed
# seed so that a failure reproduces.
MAX_EXAMPLES = 25
SEED = 1
# Size limits that only nginx knows (the request line and body in bytes, after encoding): any
# request can meet them, and they answer the documented JSON 413/414.
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "413", "414"]
[checks.negative_data_rejection]
expected-statuses = ["400", "404", "405", "413", "414", "415", "422", "429"]
"""


@pytest.mark.timeout(600)
def test_a_schema_fuzzer_finds_nothing_through_nginx(serving_stack, tmp_path):
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.stack.schema_checks",
        "PYTHONPATH": str(REPO_ROOT),
    }
    argv = [
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "run",
        f"{serving_stack.url}/openapi.json",
        *("--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED)),
        *("--workers", "1", "--request-timeout", "30", "--no-color"),
    ]
    # In tmp_path: the run leaves hypothesis's example database behind.
    result = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540, check=False
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout, result.stdout[-2000:]
