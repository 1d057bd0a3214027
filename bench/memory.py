"""Peak memory of groups of processes (a server and its children), sampled in the background."""

import subprocess
import sys
import threading
import time
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


def group_memory(pids: list[int], *, pss: bool = True) -> tuple[float, float | None]:
    """(RSS, PSS) in MB summed over the trees of pids; PSS None unless asked for. RSS counts
    shared pages once per process (an upper bound); PSS splits them between the processes
    sharing them, but reading it walks each process's page tables."""
    rss = pss_bytes = 0
    for pid in pids:
        for process in tree(pid):
            try:
                info = process.memory_full_info() if pss else process.memory_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            rss += info.rss
            pss_bytes += getattr(info, "pss", info.rss)
    return rss / MB, pss_bytes / MB if pss else None


class PeakMemory:
    """Samples named process groups while in a `with` block: RSS every `interval_s`, PSS every
    `pss_interval_s` and at both ends. `.peaks()` gives each group's highest RSS and PSS, and
    the highest sums of the groups named in `total` (all by default; name fewer when one group
    is part of another).

    PSS is sampled less often because reading it is not cheap: the kernel walks the page tables
    of the whole address space (the ONNX worker maps its KV cache whole), and at every RSS sample
    that kernel time came out of the cores of the server being measured."""

    def __init__(
        self,
        groups: dict[str, list[int]],
        *,
        total: tuple[str, ...] | None = None,
        interval_s: float = 0.25,
        pss_interval_s: float = 2.0,
    ):
        self.groups = groups
        self.total = tuple(groups) if total is None else total
        self.interval_s = interval_s
        self.pss_interval_s = pss_interval_s
        self.peak = {name: [0.0, 0.0] for name in [*groups, "total"]}
        self._pss_at = float("-inf")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)

    def sample(self, *, pss: bool | None = None) -> None:
        """One sample of every group; PSS too when pss_interval_s has passed (or `pss` says)."""
        if pss is None:
            pss = time.monotonic() - self._pss_at >= self.pss_interval_s
        if pss:
            self._pss_at = time.monotonic()
        total = [0.0, 0.0]
        for name, pids in self.groups.items():
            rss, group_pss = group_memory(pids, pss=pss)
            measured = [rss, group_pss or 0.0]
            if name in self.total:
                total = [t + m for t, m in zip(total, measured, strict=True)]
            self.peak[name] = [max(p, m) for p, m in zip(self.peak[name], measured, strict=True)]
        self.peak["total"] = [max(p, t) for p, t in zip(self.peak["total"], total, strict=True)]

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> "PeakMemory":
        self.sample(pss=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample(pss=True)

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
