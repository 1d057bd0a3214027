"""A container host for the compose tests: podman serving the Docker API on a unix socket, the
real Compose v2 binary talking to it, and the healthcheck runs a Docker daemon would schedule.
Rootful podman: containers' addresses on the compose network are reachable from here.

Podman reads the project's deploy/podman/containers.conf (runc, the host's ulimits, no systemd).
Docker's daemon runs each container's healthcheck on its interval; podman delegates that to
systemd timers, which a CI host without systemd lacks, so `HealthcheckTicker` runs them instead.
"""

import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.deploy_files import COMPOSE_BIN, REPO_ROOT

CONTAINERS_CONF = REPO_ROOT / "deploy" / "podman" / "containers.conf"
PROJECT = "ghostwriter-ci"  # not the file's own name: a user's stack on the same host is left alone
SOCKET_WAIT_S = 30


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["podman", *args], env=podman_env(), capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed:\n{result.stderr}")
    return result


def inspect(name: str) -> dict:
    return json.loads(podman("inspect", name).stdout)[0]


def project_containers(service: str | None = None, *, running_only: bool = True) -> list[str]:
    """Names of this project's containers (of one service), oldest first."""
    filters = ["--filter", f"label=com.docker.compose.project={PROJECT}"]
    if service:
        filters += ["--filter", f"label=com.docker.compose.service={service}"]
    listing = podman("ps", *([] if running_only else ["-a"]), *filters, "--sort", "created",
                     "--format", "{{.Names}}")  # fmt: skip
    return listing.stdout.split()


def health(name: str) -> str:
    state = inspect(name)["State"]
    return (state.get("Health") or state.get("Healthcheck") or {}).get("Status", "")


def health_log(name: str) -> list[dict]:
    return inspect(name)["State"]["Health"]["Log"]


class PodmanService:
    """`podman system service` on a socket of its own, for as long as the tests need it."""

    def __init__(self, folder: Path):
        self.socket = folder / "podman.sock"
        self.process: subprocess.Popen | None = None

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["podman", "system", "service", "--time=0", self.docker_host],
            env=podman_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + SOCKET_WAIT_S
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("podman system service did not open its socket")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=30)


@dataclass
class HealthcheckTicker:
    """Runs the healthcheck of every running container of the project every `every_s` seconds,
    and keeps when each container's first passing check ended (podman keeps only the last few)."""

    every_s: float = 3.0
    stopped: threading.Event = field(default_factory=threading.Event)
    first_pass_end: dict[str, str] = field(default_factory=dict)

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            for name in project_containers():
                passed = podman("healthcheck", "run", name, timeout=30, check=False)
                if passed.returncode == 0 and name not in self.first_pass_end:
                    self.first_pass_end[name] = health_log(name)[-1]["End"]

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="healthchecks", daemon=True)
        thread.start()
        return thread


@dataclass
class Compose:
    """`docker compose …` in the repo root, against the podman socket, with the given env."""

    docker_host: str
    env: dict[str, str]

    def __call__(self, *args: str, timeout: float, check: bool = True, extra_env: dict = None):
        base = {k: v for k, v in os.environ.items() if not k.startswith(("GHOST_", "COMPOSE_"))}
        env = {**base, **self.env, **(extra_env or {})}
        env |= {
            "DOCKER_HOST": self.docker_host,
            "COMPOSE_PROJECT_NAME": PROJECT,
            # Compose's BuildKit path needs buildx or a BuildKit container from Docker Hub; podman
            # builds through the classic API endpoint, with buildah (RUN --mount included).
            "DOCKER_BUILDKIT": "0",
            # One image at a time: the api and trainer images share their wheels stage, which the
            # layer cache then compiles once.
            "COMPOSE_PARALLEL_LIMIT": "1",
        }
        result = subprocess.run(
            [str(COMPOSE_BIN), *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker compose {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result


def grep_files(text: str, folders: list[str]) -> list[str]:
    """Files under the folders that contain the text (podman's layer folders, read from here)."""
    result = subprocess.run(
        ["grep", "-rlF", "--", text, *folders], capture_output=True, text=True, timeout=240
    )
    assert result.returncode in (0, 1), result.stderr  # 1: nothing found
    return result.stdout.split()
