"""llama.cpp's own `llama-server`: what a user would run instead of Ghostwriter, built and started
here so the open-loop benchmark can send it the same schedule on the same GGUF file.

The binary is built once from the llama.cpp source vendored in the llama-cpp-python sdist that
the API's engine uses (the same llama.cpp), and cached outside the repository:

    ~/.cache/ghostwriter/llama-server-0.3.36/bin/llama-server   ($GHOST_CACHE_DIR moves it)

The build takes ~12 CPU-minutes (-j2, nice'd: 71 minutes of wall time on a 2-core machine with
a load average near 15); its log stays beside the binary.
"""

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

LLAMA_CPP_PYTHON = "0.3.36"
# A static, self-contained binary; no OpenSSL (loopback only) and no web UI (it would download).
CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
)
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0


class BuildError(RuntimeError):
    """llama-server could not be built here; the message carries the failing step's output."""


def cache_dir() -> Path:
    root = Path(os.environ.get("GHOST_CACHE_DIR", Path.home() / ".cache" / "ghostwriter"))
    return root / f"llama-server-{LLAMA_CPP_PYTHON}"


def binary_path() -> Path:
    return cache_dir() / "bin" / "llama-server"


def run_step(command: list[str], log, **kwargs) -> None:
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, **kwargs)
    if done.returncode:
        raise BuildError(f"{command[0]} … exited {done.returncode}; see {log.name}")


def extract_llama_cpp(sdist: Path, into: Path) -> Path:
    """Unpacks only the sdist's vendor/llama.cpp folder; returns it."""
    prefix = f"llama_cpp_python-{LLAMA_CPP_PYTHON}/vendor/llama.cpp/"
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(prefix)]
        archive.extractall(into, members=members, filter="data")
    return into / prefix


def build(log_path: Path) -> float:
    """Downloads the sdist, builds llama-server into the cache; returns the seconds it took."""
    started = time.monotonic()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log, tempfile.TemporaryDirectory(dir=log_path.parent) as work:
        work = Path(work)
        run_step(
            [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps"]
            + [f"llama-cpp-python=={LLAMA_CPP_PYTHON}", "-d", str(work)],
            log,
        )
        source = extract_llama_cpp(next(work.glob("llama_cpp_python-*.tar.gz")), work)
        nice = ["nice", "-n", "10"]
        build_dir = work / "build"
        run_step([*nice, "cmake", "-S", str(source), "-B", str(build_dir), *CMAKE_OPTIONS], log)
        target = ["--target", "llama-server", "-j2"]
        run_step([*nice, "cmake", "--build", str(build_dir), *target], log)
        # Into place atomically: an interrupted build leaves no half-written binary behind.
        binary = binary_path()
        binary.parent.mkdir(parents=True, exist_ok=True)
        temporary = binary.with_suffix(".tmp")
        shutil.copy2(build_dir / "bin" / "llama-server", temporary)
        os.replace(temporary, binary)
    return time.monotonic() - started


def ensure_binary() -> tuple[Path, float | None]:
    """The cached binary, built first when missing: (path, build seconds or None if cached)."""
    if binary_path().is_file():
        return binary_path(), None
    seconds = build(cache_dir() / "build.log")
    return binary_path(), round(seconds, 1)


def wait_ready(url: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama-server exited {process.returncode} while loading")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"llama-server not ready after {timeout_s:.0f} s")


class LlamaServer:
    """`with LlamaServer(binary, gguf, slots=…, kv_tokens=…, threads=…, port=…) as url:` serves
    the model on 127.0.0.1 with continuous batching: `slots` sequences at once sharing
    `kv_tokens` KV cells in one unified cache (the API's engine gives each slot its own
    kv_tokens / slots of them instead, in q8_0: see serving/engines/llama_engine.py)."""

    def __init__(self, binary: Path, gguf: Path, *, slots, kv_tokens, threads, port, log: Path):
        self.command = [
            str(binary), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(port),
            "-np", str(slots), "-c", str(kv_tokens), "--kv-unified",
            "-t", str(threads), "-tb", str(threads), "--no-webui",
            # llama-server as a user would run it: flash attention (as the API's engine), its
            # default f16 KV cells and 512-token batches (the API's engine steps in 128).
            "-fa", "on", "-b", "512", "-ub", "512",
        ]  # fmt: skip
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.process = None

    def __enter__(self) -> str:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(self.url, self.process, READY_TIMEOUT_S)
        except BaseException:
            self.__exit__()
            raise
        return self.url

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def completion_body(request, *, stream: bool = True) -> dict:
    """llama-server's /completion body for a traffic.Request, sampling as the API samples:
    temperature, top-k (0 = off), top-p, and nothing else (its min-p default of 0.05 off)."""
    return {
        "prompt": request.prompt,
        "n_predict": request.length,
        "temperature": request.temperature,
        "top_k": request.top_k,
        "top_p": request.top_p,
        "min_p": 0.0,
        "seed": -1 if request.seed is None else request.seed,
        "stream": stream,
    }


def event_tokens(event: dict) -> tuple[int, int | None]:
    """(tokens, total so far) of one /completion stream event: every event, the last
    (`"stop": true`) included, carries the tokens generated so far."""
    return 0, int(event["tokens_predicted"])
