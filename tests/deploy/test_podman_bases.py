"""deploy/podman/bases.sh on a host that has never built the stand-in bases: its debootstrap
branch, run for real by bash with podman and debootstrap stood in (debootstrap needs the internet
and minutes; podman needs root and containers), down to the script's own exit status.

The stand-ins record their arguments in calls.log and answer as a host without images would:
no recipe label on any image, so every base is built.
"""

import os
import subprocess
from pathlib import Path

import pytest

from tests.deploy.deploy_files import REPO_ROOT

BASES = REPO_ROOT / "deploy" / "podman" / "bases.sh"

FAKE_PODMAN = """#!/bin/bash
echo "podman $*" >> "$CALLS"
case "$1 $2" in
  "image inspect") [[ "$*" == *'{{.Id}}'* ]] && echo sha256:0123 || exit 125 ;;
  "import "*) cat > /dev/null ;;
  "images "*) echo "localhost/ghostwriter-standin/debian:bookworm 120MB" ;;
esac
"""

# Like the real one, it leaves a tree with /proc and /sys as plain folders once it has unmounted.
FAKE_DEBOOTSTRAP = """#!/bin/bash
echo "debootstrap $*" >> "$CALLS"
root=${@: -2:1}
mkdir -p "$root/proc" "$root/sys" "$root/var/cache/apt/archives" "$root/var/lib/apt/lists"
touch "$root/var/cache/apt/archives/base.deb"
exit "${DEBOOTSTRAP_STATUS:-0}"
"""


def run_bases(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, Path]:
    bin_dir, scratch = tmp_path / "bin", tmp_path / "tmp"
    bin_dir.mkdir()
    scratch.mkdir()
    for name, text in (("podman", FAKE_PODMAN), ("debootstrap", FAKE_DEBOOTSTRAP)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    calls = tmp_path / "calls.log"
    result = subprocess.run(
        ["bash", str(BASES)],
        env={
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "TMPDIR": str(scratch),
            "CALLS": str(calls),
            "MIRROR": "http://127.0.0.1:9/debian",
            "LOCAL_CA_DIR": str(tmp_path / "no-ca"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, scratch


def test_a_first_build_exits_0_and_leaves_no_tree(tmp_path):
    result, scratch = run_bases(tmp_path)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls.log").read_text()
    assert "debootstrap --variant=minbase bookworm" in calls
    for step in ("podman import", "python:3.11-slim", "nginx:1.28"):
        assert step in calls
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("status", ["1", "2"])
def test_a_failed_debootstrap_keeps_its_status_and_leaves_no_tree(tmp_path, status):
    result, scratch = run_bases(tmp_path, DEBOOTSTRAP_STATUS=status)
    assert result.returncode == int(status)
    assert "podman import" not in (tmp_path / "calls.log").read_text()
    assert list(scratch.iterdir()) == []
