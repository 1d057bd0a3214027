"""The Dockerfiles, linted by hadolint and read by dockerfile-parse (no Docker engine here)."""

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from docker.utils.build import exclude_paths

from tests.deploy.deploy_files import (
    DOCKERFILES,
    REPO_ROOT,
    compose_config,
    final_stage,
    k8s_object,
    parse_dockerfile,
)

HADOLINT = shutil.which("hadolint") or str(Path(__file__).parents[2] / ".venv/bin/hadolint")
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
NGINX_UID = 101  # the `nginx` user of the official nginx image


def instructions(name: str, kind: str | None = None, *, stage: str = "final") -> list[dict]:
    found = parse_dockerfile(DOCKERFILES[name])
    if stage == "final":
        found = final_stage(found)
    return [ins for ins in found if kind is None or ins["instruction"] == kind]


def copy_sources(name: str) -> list[str]:
    sources = []
    for ins in instructions(name, "COPY", stage="all"):
        if "--from=" in ins["value"]:
            continue
        *srcs, _dest = ins["value"].split()
        sources += srcs
    return sources


def dockerignore_context() -> set[str]:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line for line in lines if line.strip() and not line.startswith("#")]
    return exclude_paths(str(REPO_ROOT), patterns)


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_hadolint_passes(name):
    result = subprocess.run(
        [HADOLINT, "--format", "json", str(DOCKERFILES[name])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0


def test_hadolint_is_live(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install flask\n")
    result = subprocess.run(
        [HADOLINT, "--format", "json", str(bad)], capture_output=True, text=True
    )
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert {"DL3007", "DL3003"} <= codes
    assert result.returncode != 0


@pytest.mark.parametrize(
    ("name", "base"),
    [("api", "python:3.11-slim"), ("trainer", "python:3.11-slim"), ("nginx", "nginx:")],
)
def test_base_images(name, base):
    for ins in instructions(name, "FROM", stage="all"):
        assert ins["value"].split()[0].startswith(base)


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_runs_as_a_numeric_non_root_user(name):
    users = instructions(name, "USER")
    assert users, f"{name}: the final stage must set USER"
    uid = users[-1]["value"].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_nginx_user_is_the_official_images_nginx_user():
    assert instructions("nginx", "USER")[-1]["value"] == f"{NGINX_UID}:{NGINX_UID}"


@pytest.mark.parametrize("name", ["api", "trainer"])
def test_dependencies_are_installed_before_the_code_is_copied(name):
    # Layer caching: an edit to the code must not re-install the dependencies.
    found = parse_dockerfile(DOCKERFILES[name])
    install = max(
        i
        for i, ins in enumerate(found)
        if ins["instruction"] == "RUN" and "pip install" in ins["value"]
    )
    code_copies = [
        i
        for i, ins in enumerate(found)
        if ins["instruction"] == "COPY" and re.match(r"(api|model|crawler|corpus)/", ins["value"])
    ]
    assert code_copies and install < min(code_copies)
    first_copy = next(ins for ins in found if ins["instruction"] == "COPY")
    assert first_copy["value"].split()[0] == "pyproject.toml"


def test_api_image_installs_only_the_serve_extra():
    runs = " ".join(ins["value"] for ins in instructions("api", "RUN", stage="all"))
    assert "['serve']" in runs
    assert not re.search(r"\['(train|crawl|dev)'\]", runs)
    assert not any(re.match(r"(tensorflow|gpt-2-simple)\b", dep) for dep in EXTRAS["serve"])


def test_trainer_installs_the_pipeline_extras():
    runs = " ".join(ins["value"] for ins in instructions("trainer", "RUN", stage="all"))
    assert "extras['crawl'] + extras['train']" in runs


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_every_copied_path_exists_and_is_in_the_build_context(name):
    context = dockerignore_context()
    for source in copy_sources(name):
        path = source.rstrip("/")
        assert (REPO_ROOT / path).exists(), f"{name}: COPY {source}: no such path"
        assert path in context, f"{name}: COPY {source} is excluded by .dockerignore"


def test_build_context_leaves_out_data_environments_and_git():
    context = dockerignore_context()
    leaked = [p for p in context if p.split("/")[0] in {"data", ".venv", ".git", "tests", "bench"}]
    assert leaked == []
    assert not any("__pycache__" in p for p in context)


def test_trainer_runs_the_whole_pipeline():
    (entry,) = instructions("trainer", "ENTRYPOINT")
    assert json.loads(entry["value"]) == ["bash", "deploy/pipeline.sh"]
    script = (REPO_ROOT / "deploy/pipeline.sh").read_text()
    for stage in ("-m crawler", "-m corpus prepare", "-m model init", "-m model download"):
        assert stage in script
    for command in ("finetune", "evaluate", "export"):
        assert f"-m model {command}" in script


def inline_program(name: str, marker: str) -> str:
    """The `python -c PROGRAM` of the last RUN instruction that mentions `marker`."""
    for ins in reversed(instructions(name, "RUN", stage="all")):
        if marker in ins["value"]:
            words = shlex.split(ins["value"])
            return words[words.index("-c") + 1]
    raise AssertionError(f"{name}: no RUN with {marker!r}")


@pytest.mark.parametrize(("name", "extras"), [("api", ["serve"]), ("trainer", ["crawl", "train"])])
def test_the_requirements_step_lists_the_extras(tmp_path, name, extras):
    # The very program the image runs, on this pyproject.toml, in a folder like the build's.
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path)
    program = inline_program(name, "tomllib")
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [dep for extra in extras for dep in EXTRAS[extra]]


def wheels_stage(name: str) -> list[tuple[str, str]]:
    found = parse_dockerfile(DOCKERFILES[name])
    start, end = [i for i, ins in enumerate(found) if ins["instruction"] == "FROM"][:2]
    while found[end - 1]["instruction"] == "COMMENT":  # they introduce the next stage
        end -= 1
    return [(ins["instruction"], ins["value"]) for ins in found[start:end]]


def test_api_and_trainer_share_one_wheels_stage():
    # Identical instructions: the layer cache compiles llama.cpp and uWSGI once for both images.
    assert wheels_stage("api") == wheels_stage("trainer")
    assert wheels_stage("api")[0] == ("FROM", "python:3.11-slim AS wheels")
    assert "-DGGML_NATIVE=OFF" in dict(wheels_stage("api"))["ENV"]


@pytest.mark.parametrize("name", ["api", "trainer"])
def test_packages_come_from_a_copy_of_the_wheels_stage_and_no_wheel_reaches_the_image(name):
    # podman 4.3 bind-mounts a cached stage's first layer, not its last, and keeps a RUN's cached
    # layer when the mounted stage changes; COPY --from reads the whole stage and keys the cache
    # on the files, with podman as with BuildKit.
    found = parse_dockerfile(DOCKERFILES[name])
    assert not [ins["value"] for ins in found if "--mount=type=bind" in ins["value"]]
    stages = [i for i, ins in enumerate(found) if ins["instruction"] == "FROM"]
    assert found[stages[1]]["value"] == "python:3.11-slim AS packages"
    packages = [(ins["instruction"], ins["value"]) for ins in found[stages[1] : stages[2]]]
    assert ("COPY", "--from=wheels /wheels /wheels") in packages
    assert "--root /packages" in " ".join(value for kind, value in packages if kind == "RUN")
    final = [(ins["instruction"], ins["value"]) for ins in final_stage(found)]
    assert ("COPY", "--from=packages /packages /") in final
    assert not [value for _, value in final if "wheels" in value]


def test_the_llama_cpp_layer_builds_the_version_pyproject_pins():
    (pinned,) = {d for extra in ("serve", "train") for d in EXTRAS[extra] if "llama-cpp" in d}
    arg = dict(wheels_stage("api"))["ARG"]
    assert pinned == "llama-cpp-python==" + arg.removeprefix("LLAMA_CPP_PYTHON=")


def test_probe_is_installed_where_the_healthchecks_run_it():
    destinations = [
        ins["value"].split()[-1]
        for ins in instructions("api", "COPY")
        if ins["value"].startswith("docker/uwsgi_probe.py ")
    ]
    assert destinations == ["/usr/local/bin/uwsgi_probe.py"]
    compose_check = compose_config()["services"]["api"]["healthcheck"]["test"]
    assert compose_check[1:3] == ["python", destinations[0]]
    (api,) = k8s_object("Deployment", "ghostwriter-api")["spec"]["template"]["spec"]["containers"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert api[probe]["exec"]["command"][:2] == ["python", destinations[0]]


@pytest.mark.parametrize("name", ["api", "trainer"])
def test_the_data_volume_mount_point_belongs_to_the_image_user(name):
    # A new named volume takes its owner from the image that mounts it first: api or trainer.
    runs = " ".join(ins["value"] for ins in instructions(name, "RUN"))
    assert "--uid 10001" in runs
    assert "mkdir /data && chown ghost:ghost /data" in runs
    assert instructions(name, "USER")[-1]["value"] == "10001:10001"
