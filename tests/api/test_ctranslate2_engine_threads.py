"""Building the CTranslate2 engine leaves no OpenMP helper threads behind on the caller's thread.

While such helpers live, libgomp counts more of its threads than cores and stops spin-waiting,
which made generation ~40 % slower on 2 cores (see api/engines/ctranslate2_engine.py). Each
case runs in a fresh interpreter so its thread count starts clean.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from tests.fixtures.models import REPO_ROOT

# Prints the threads this process gained by the construction, once they have settled (a thread
# that ended can stay listed in /proc for a moment).
COUNT_NEW_THREADS = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path

    import ctranslate2
    from api.engines.ctranslate2_engine import CTranslate2Engine

    def threads():
        return len(os.listdir("/proc/self/task"))

    how, folder = sys.argv[1], sys.argv[2]
    before = threads()
    settings = dict(compute_type="int8", inter_threads=1, intra_threads=0)
    if how == "engine":
        built = CTranslate2Engine(Path(folder), **settings)
    else:
        built = ctranslate2.Generator(folder, device="cpu", **settings)
    counts = []
    while len(counts) < 3 or len(set(counts[-3:])) > 1:
        counts.append(threads() - before)
        time.sleep(0.05)
    print(counts[-1])
    """
)


def new_threads(how: str, folder) -> int:
    result = subprocess.run(
        [sys.executable, "-c", COUNT_NEW_THREADS, how, str(folder)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1])


@pytest.fixture(scope="module")
def folder(tiny_serving_model_int8):
    return tiny_serving_model_int8.path


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: OpenMP starts no helpers")
def test_a_generator_built_on_the_callers_thread_leaves_openmp_helpers(folder):
    # The condition the engine guards against: CTranslate2's worker plus the loader's helpers.
    # If CTranslate2 stops doing this, the short-lived loading thread can go.
    assert new_threads("direct", folder) > 1


def test_the_engine_leaves_only_ctranslate2s_worker_thread(folder):
    assert new_threads("engine", folder) == 1


def test_a_load_error_reaches_the_caller():
    from api.engines.ctranslate2_engine import _on_short_lived_thread

    def fail():
        raise RuntimeError("no model.bin")

    with pytest.raises(RuntimeError, match="no model.bin"):
        _on_short_lived_thread(fail)
