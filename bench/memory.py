"""Peak memory of groups of processes (a server and its children), sampled in the background."""

import subprocess
import sys
import threading
from pathlib import Path

import psutil

MB = 2**20


def tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants that are still alive."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def group_memory(pids: list[int]) -> tuple[float, float]:
    """(RSS, PSS) in MB summed over the trees of pids. RSS counts shared pages once per
    process (an upper bound); PSS splits them between the processes sharing them."""
    rss = pss = 0
    for pid in pids:
        for process in tree(pid):
            try:
                info = process.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
    return rss / MB, pss / MB


class PeakMemory:
    """Samples named process groups every `interval_s` while in a `with` block; `.peaks()`
    gives each group's highest RSS and PSS, and the highest sum of the groups named in `total`
    (all by default; name fewer when one group is part of another)."""

    def __init__(
        self,
        groups: dict[str, list[int]],
        *,
        total: tuple[str, ...] | None = None,
        interval_s: float = 0.25,
    ):
        self.groups = groups
        self.total = tuple(groups) if total is None else total
        self.interval_s = interval_s
        self.peak = {name: [0.0, 0.0] for name in [*groups, "total"]}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)

    def sample(self) -> None:
        total = [0.0, 0.0]
        for name, pids in self.groups.items():
            rss, pss = group_memory(pids)
            if name in self.total:
                total = [total[0] + rss, total[1] + pss]
            self.peak[name] = [max(self.peak[name][0], rss), max(self.peak[name][1], pss)]
        self.peak["total"] = [max(a, b) for a, b in zip(self.peak["total"], total, strict=True)]

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> "PeakMemory":
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def peaks(self) -> dict:
        return {
            name: {"rss_mb": round(rss, 1), "pss_mb": round(pss, 1)}
            for name, (rss, pss) in self.peak.items()
        }


# The kernel's peak RSS of a process (wait4's ru_maxrss) also counts the address space it was
# forked from, held until exec: a large parent (the bench runner with a model loaded, pytest)
# would inflate it. So a command is forked from this small launcher, which writes its child's
# own peak (KiB) to a report file and exits with the child's status.
_LAUNCHER = """
import os, sys
report, command = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    os.execv(command[0], command)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as file:
    file.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def launch_measured(command: list[str], report: Path, **popen_args) -> subprocess.Popen:
    """Starts `command` (an absolute program path first) through the launcher; once it has
    ended, `own_peak_rss_mb(report)` is its peak RSS."""
    return subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(report), *command], **popen_args)


def own_peak_rss_mb(report: Path) -> float:
    return int(report.read_text()) / 1024
