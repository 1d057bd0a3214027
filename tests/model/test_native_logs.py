"""The model CLI's console: TensorFlow's native start-up lines hidden by default, shown with -v."""

import os
import re
import subprocess
import sys
import textwrap

import pytest

from model.native_logs import is_noise
from tests.fixtures import tiny_corpus
from tests.fixtures.models import REPO_ROOT, run_model_cli

# What a person reads as "something went wrong".
ERROR_LOOKING = re.compile(r"(?i)\b(error|failed|traceback|warning)\b|^[EWF]\d{4} ", re.M)
CUINIT = (
    b"E0000 00:00:1796025247.268412   31322 cuda_platform.cc:52] failed call to cuInit: INTERNAL:"
    b" CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
)
ONEDNN = (
    b"I0000 00:00:1796025239.068780   31322 port.cc:153] oneDNN custom operations are on. You"
    b" may see slightly different numerical results\n"
)
WARNING = b"W1130 08:01:02.123456   31322 cpu_allocator_impl.cc:83] Allocation exceeds 10%\n"
REAL_ERROR = b"E1130 08:01:02.123456   31322 status.cc:10] OOM when allocating tensor\n"


@pytest.mark.parametrize(
    ("line", "min_level", "hidden"),
    [
        (b"WARNING: All log messages before absl::InitializeLog() is called are written to"
         b" STDERR\n", 2, True),
        (ONEDNN, 2, True),
        (ONEDNN, 0, False),
        (WARNING, 2, True),
        (WARNING, 1, False),
        (CUINIT, 2, True),
        (CUINIT, 0, True),  # no GPU is not an error; -v skips the filter altogether
        (REAL_ERROR, 2, False),
        (b"error: base model x already exists; pass --force to replace it\n", 2, False),
        (b"step 10/100 loss 4.1\r", 2, False),
    ],
)  # fmt: skip
def test_noise_is_only_what_the_log_level_hides_and_cuinit(line, min_level, hidden):
    assert is_noise(line, min_level=min_level) is hidden


# A child that writes to fd 2 as C++ does (lines given as hex arguments), then as Python does.
FILTERED_CHILD = textwrap.dedent(
    """
    import os, sys
    from model.native_logs import filtered_stderr
    with filtered_stderr(verbose=sys.argv[1] == "-v"):
        for line in sys.argv[2:]:
            os.write(2, bytes.fromhex(line))
        print("python's own stderr", file=sys.stderr)
    print("after", file=sys.stderr)
    """
)
WRITTEN = [ONEDNN, CUINIT, b"progress 1\r", b"progress 2\r", REAL_ERROR, b"no newline at the end"]


@pytest.mark.parametrize("verbose", [False, True])
@pytest.mark.timeout(60)
def test_filtered_stderr_passes_everything_else_in_order(verbose):
    flag = "-v" if verbose else "-"
    result = subprocess.run(
        [sys.executable, "-c", FILTERED_CHILD, flag, *(written.hex() for written in WRITTEN)],
        cwd=REPO_ROOT,
        capture_output=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    rest = b"progress 1\rprogress 2\r" + REAL_ERROR + b"no newline at the end"
    rest += b"python's own stderr\nafter\n"
    assert result.stderr == (ONEDNN + CUINIT if verbose else b"") + rest


@pytest.mark.timeout(180)
def test_model_init_prints_no_error_looking_line_unless_verbose(tmp_path):
    corpus = tmp_path / "train.txt"
    corpus.write_text(tiny_corpus.join_documents(tiny_corpus.documents(150, seed=3)))
    shape = ("--vocab-size", "300", "--n-layer", "1", "--n-embd", "32", "--n-head", "2")
    quiet = run_model_cli(tmp_path, "init", "quiet", "--corpus", str(corpus), *shape)
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert "base model quiet:" in quiet.stdout
    assert not ERROR_LOOKING.findall(quiet.stdout + quiet.stderr), quiet.stderr[-3000:]

    verbose = run_model_cli(tmp_path, "init", "loud", "--corpus", str(corpus), *shape, "-v")
    assert verbose.returncode == 0, verbose.stderr[-3000:]
    # TensorFlow logs at start-up on every machine: -v shows it, so hiding it above was real.
    assert re.search(r"^I\d{4} .*\.cc:\d+\] ", verbose.stderr, re.M), verbose.stderr[-3000:]
