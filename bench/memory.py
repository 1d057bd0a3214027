"""Peak memory of groups of processes (a server and its children), sampled in the background."""

import threading

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
