"""TensorFlow's native start-up lines kept off the console, unless asked for with `-v`.

TF_CPP_MIN_LOG_LEVEL does not reach all of them (TensorFlow 2.21): the oneDNN and cudart_stub
INFO lines and absl's "before absl::InitializeLog()" header come from a second copy of absl that
logs everything before it is initialised, and on a machine without a GPU `failed call to cuInit`
is logged as an ERROR although nothing failed (hiding the GPU with CUDA_VISIBLE_DEVICES=-1 does
not stop it). They are written to file descriptor 2 by C++, so Python's logging cannot filter
them: while a command runs, fd 2 goes through a pipe whose reader drops exactly those lines
and passes everything else on at once.
"""

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator

ABSL_HEADER = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
)
# absl/glog's prefix: severity letter, MMDD, time, thread id, file:line]. Before absl is set up
# the time reads "00:00:<seconds since 1970>".
NATIVE_LINE = re.compile(rb"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.-]+:\d+\] ")
NO_GPU_LINE = re.compile(rb"cuda_platform\.cc:\d+\] failed call to cuInit")
SEVERITY_LEVEL = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}  # TF_CPP_MIN_LOG_LEVEL's numbering
JOIN_TIMEOUT_S = 5.0  # a child process that inherited fd 2 may hold the pipe open


def configure(verbose: bool) -> None:
    """TensorFlow's log level for this process: everything with -v, else errors only. Without
    -v, no tqdm bars either: gpt-2-simple draws one over the one dataset file it loads."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if verbose else os.getenv("TF_CPP_MIN_LOG_LEVEL", "2")
    if not verbose:
        os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is imported


def is_noise(line: bytes, *, min_level: int) -> bool:
    """Whether a native stderr line is one TF_CPP_MIN_LOG_LEVEL means to hide, or the cuInit
    line of a machine without a GPU."""
    if line.rstrip(b"\r\n") == ABSL_HEADER:
        return True
    match = NATIVE_LINE.match(line)
    if match is None:
        return False
    return SEVERITY_LEVEL[match.group(1)] < min_level or bool(NO_GPU_LINE.search(line))


@contextlib.contextmanager
def filtered_stderr(*, verbose: bool) -> Iterator[None]:
    """Runs the body with fd 2 filtered through `is_noise` (not at all with verbose)."""
    if verbose:
        yield
        return
    min_level = int(os.getenv("TF_CPP_MIN_LOG_LEVEL", "2") or 0)
    sys.stderr.flush()
    console = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    forwarder = threading.Thread(
        target=_forward, args=(read_end, console, min_level), name="stderr-filter", daemon=True
    )
    forwarder.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(console, 2)  # closes the pipe's last write end: the forwarder reads to its end
        forwarder.join(JOIN_TIMEOUT_S)
        os.close(console)


def _forward(read_end: int, console: int, min_level: int) -> None:
    pending = b""
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            # "\r" ends a line too, so progress redrawn in place is passed on as it comes.
            *lines, pending = re.split(rb"(?<=[\r\n])", pending + chunk)
            for line in lines:
                if not is_noise(line, min_level=min_level):
                    os.write(console, line)
    if pending and not is_noise(pending, min_level=min_level):
        os.write(console, pending)
