"""Where a server process spends its time: py-spy samples it while a level runs.

`py-spy record --nonblocking` reads the stacks without pausing the process, so the measured
figures are barely touched. Python frames only (py-spy cannot unwind through the engines' native
threads): time in the engine shows as the Python line that calls it. Idle threads are sampled
too (`--idle`): the engine loop's thread waits inside the engine with the GIL released, which
py-spy would otherwise count as idle. The raw collapsed stacks are kept next to the results; the
summary gives, per thread, the share of samples in each innermost frame.
"""

import collections
import re
import subprocess
import sys
from pathlib import Path

RATE_HZ = 50


def py_spy() -> str:
    return str(Path(sys.executable).with_name("py-spy"))


class Profile:
    """`with Profile(pid, seconds, out):` samples pid for `seconds` (or until the block ends)."""

    def __init__(self, pid: int, *, seconds: float, out: Path):
        self.out = out
        self.command = [
            py_spy(),
            "record",
            *("--pid", str(pid)),
            *("--duration", str(max(1, round(seconds)))),
            *("--rate", str(RATE_HZ)),
            *("--format", "raw"),
            *("--output", str(out)),
            "--nonblocking",
            "--threads",
            "--idle",
        ]
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Profile":
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        return self

    def __exit__(self, *exc) -> None:
        try:
            _, self.stderr = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, self.stderr = self.process.communicate()

    def summary(self, *, top: int = 12) -> dict:
        if not self.out.is_file():
            return {"error": (self.stderr or "py-spy wrote nothing").strip()[-500:]}
        return {"raw": str(self.out), **summarise(self.out.read_text(), top=top)}


def summarise(collapsed: str, *, top: int) -> dict:
    """Per group of threads (names with their numbers blanked: every uWSGI request thread is
    one group, the batcher another), the share of its samples in each innermost frame."""
    groups: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        thread, *frames = stack.split(";")
        group = re.sub(r"\d+", "N", thread.partition(": ")[2] or thread)
        groups[group][short(frames[-1]) if frames else "(no Python frame)"] += int(count)
    threads = {}
    for group, leaves in sorted(groups.items(), key=lambda item: -item[1].total()):
        total = leaves.total()
        threads[group] = {
            "samples": total,
            "top": [[frame, round(n / total, 3)] for frame, n in leaves.most_common(top)],
        }
    return {"samples": sum(g["samples"] for g in threads.values()), "threads": threads}


def short(frame: str) -> str:
    """`function (path/to/module.py:123)` → `function (module.py:123)`."""
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.rstrip(')')).name})" if where else name
