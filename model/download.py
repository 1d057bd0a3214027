"""`python -m model download 124M`: OpenAI's GPT-2 into `models/NAME`, resumable and verified.

The same files gpt-2-simple's `download_gpt2` fetches, from the same host unless `--mirror` or
GHOST_GPT2_MIRROR names another (`MIRROR/models/NAME/FILE`). Files land in `models/.NAME.download/`
as FILE.part, continue with an HTTP Range request after an interruption, are renamed once their
size equals the server's Content-Length, and the folder becomes `models/NAME` once every file is
there, so a half-downloaded model is never mistaken for a whole one.
"""

import os
import time
from pathlib import Path

from cli import UsageError
from contracts import CHECKPOINT_INDEX, ENCODER, HPARAMS, VOCAB_BPE
from model import paths

SIZES = ("124M", "355M", "774M", "1558M")
FILES = (
    CHECKPOINT_INDEX,
    ENCODER,
    HPARAMS,
    "model.ckpt.data-00000-of-00001",
    "model.ckpt.index",
    "model.ckpt.meta",
    VOCAB_BPE,
)
DEFAULT_MIRROR = "https://openaipublic.blob.core.windows.net/gpt-2"
# Bytes read in a chunk that breaks off are lost, so chunks stay small.
CHUNK_BYTES = 1 << 16
TIMEOUT_S = 30  # per connect / read; a stalled server fails instead of hanging


def add_arguments(parser) -> None:
    parser.add_argument("size", choices=SIZES, help="GPT-2 model size")
    parser.add_argument(
        "--mirror",
        default=os.environ.get("GHOST_GPT2_MIRROR", DEFAULT_MIRROR),
        help="base URL serving models/SIZE/FILE (env GHOST_GPT2_MIRROR; default OpenAI's)",
    )


def remote_size(session, url: str) -> int:
    response = session.head(url, allow_redirects=True, timeout=TIMEOUT_S)
    if response.status_code != 200 or "Content-Length" not in response.headers:
        raise UsageError(
            f"{url} answered HTTP {response.status_code} without a size; check --mirror"
        )
    return int(response.headers["Content-Length"])


def fetch(session, url: str, target: Path, *, size: int) -> None:
    """Completes `target` from `target.part`, asking only for the bytes still missing."""
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    if have > size:  # the remote file changed since; start over
        part.unlink()
        have = 0
    if have < size:
        headers = {"Range": f"bytes={have}-"} if have else {}
        with session.get(url, headers=headers, stream=True, timeout=TIMEOUT_S) as response:
            if response.status_code not in (200, 206):
                raise UsageError(f"{url} answered HTTP {response.status_code}; check --mirror")
            # 200 means the server ignored the range and sends the whole file again.
            mode = "ab" if response.status_code == 206 else "wb"
            with part.open(mode) as out:
                for chunk in response.iter_content(CHUNK_BYTES):
                    out.write(chunk)
    got = part.stat().st_size
    if got != size:
        raise UsageError(f"{url}: got {got} of {size} bytes; run the same command again to resume")
    os.replace(part, target)


def download(size: str, mirror: str, staging: Path) -> int:
    """Fetches every missing file into `staging`; returns the bytes the model takes."""
    import requests

    total = 0
    with requests.Session() as session:
        for name in FILES:
            url = f"{mirror.rstrip('/')}/models/{size}/{name}"
            try:
                expected = remote_size(session, url)
                target = staging / name
                if not (target.exists() and target.stat().st_size == expected):
                    print(f"fetching {name} ({expected / 2**20:.1f} MiB)", flush=True)
                    fetch(session, url, target, size=expected)
            except requests.RequestException as error:
                raise UsageError(
                    f"download of {url} failed ({type(error).__name__}); check --mirror, then "
                    "run the same command again to resume"
                ) from None
            total += expected
    return total


def run(args) -> int:
    started = time.monotonic()
    target = paths.models_dir() / args.size
    if all((target / name).is_file() for name in FILES):
        print(f"{target} is already complete")
        return 0
    if target.exists():
        raise UsageError(f"{target} exists but lacks GPT-2's files; remove it and run again")
    staging = paths.models_dir() / f".{args.size}.download"
    staging.mkdir(parents=True, exist_ok=True)
    total = download(args.size, args.mirror, staging)
    staging.rename(target)
    print(
        f"downloaded GPT-2 {args.size} to {target} ({total / 2**20:.1f} MiB) "
        f"in {time.monotonic() - started:.1f} s"
    )
    return 0
