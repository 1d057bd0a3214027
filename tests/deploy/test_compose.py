"""docker-compose.yml as the real Docker Compose CLI (v2, `config`) loads and validates it.

No Docker engine runs here: `docker compose config` parses, interpolates and validates the file
against the Compose specification exactly as `docker compose up` would before starting anything.
"""

import ast

import pytest
import yaml

from tests.deploy.deploy_files import COMPOSE_FILE, REPO_ROOT, compose_config, run_compose


@pytest.fixture(scope="module")
def served() -> dict:
    return compose_config()


@pytest.fixture(scope="module")
def with_trainer() -> dict:
    return compose_config("train")


def test_serving_stack_is_nginx_and_api_and_trainer_needs_its_profile(served, with_trainer):
    assert set(served["services"]) == {"nginx", "api"}
    assert set(with_trainer["services"]) == {"nginx", "api", "trainer"}
    assert with_trainer["services"]["trainer"]["profiles"] == ["train"]


def test_only_nginx_is_published_on_5000(served):
    (port,) = served["services"]["nginx"]["ports"]
    assert (port["target"], port["published"], port["protocol"]) == (5000, "5000", "tcp")
    assert "ports" not in served["services"]["api"]


def test_publish_port_can_be_moved_from_the_environment():
    (port,) = compose_config(env={"GHOST_PORT": "8080"})["services"]["nginx"]["ports"]
    assert (port["target"], port["published"]) == (5000, "8080")


def test_api_can_scale_to_replicas(served):
    # `--scale api=3` fails on a fixed container name or a published host port.
    api = served["services"]["api"]
    assert "container_name" not in api
    assert "ports" not in api
    assert api["expose"] == ["3031"]


@pytest.mark.parametrize("service", ["nginx", "api"])
def test_healthchecks_ask_readyz(served, service):
    check = served["services"][service]["healthcheck"]
    assert check["test"][0] == "CMD"
    assert check["test"][-1].endswith("/readyz")
    assert check["retries"] >= 3


def test_nginx_waits_for_a_healthy_api(served):
    assert served["services"]["nginx"]["depends_on"]["api"]["condition"] == "service_healthy"


def test_restart_policies(served, with_trainer):
    assert served["services"]["nginx"]["restart"] == "unless-stopped"
    assert served["services"]["api"]["restart"] == "unless-stopped"
    # A finished pipeline must not be started again.
    assert with_trainer["services"]["trainer"]["restart"] == "no"


@pytest.mark.parametrize(
    ("service", "at_most"), [("nginx", 256 << 20), ("api", 2 << 30), ("trainer", 16 << 30)]
)
def test_memory_limits(with_trainer, service, at_most):
    limit = int(with_trainer["services"][service]["deploy"]["resources"]["limits"]["memory"])
    assert 0 < limit <= at_most


def test_api_filesystem_is_read_only_except_tmp(served):
    api = served["services"]["api"]
    assert api["read_only"] is True
    assert api["tmpfs"] == ["/tmp"]
    (volume,) = api["volumes"]
    assert (volume["target"], volume["read_only"]) == ("/data", True)


def test_trainer_filesystem_is_read_only_except_tmp_and_the_volume(with_trainer):
    trainer = with_trainer["services"]["trainer"]
    assert trainer["read_only"] is True
    assert trainer["tmpfs"] == ["/tmp"]


def test_trainer_writes_the_volume_the_api_reads(with_trainer):
    trainer, api = with_trainer["services"]["trainer"], with_trainer["services"]["api"]
    (written,) = trainer["volumes"]
    (read,) = api["volumes"]
    assert written["source"] == read["source"] == "ghost-data"
    assert written["target"] == read["target"] == "/data"
    assert not written.get("read_only", False)
    assert trainer["environment"]["GHOST_DATA_DIR"] == api["environment"]["GHOST_DATA_DIR"]


def test_host_folder_replaces_the_named_volume(tmp_path):
    services = compose_config("train", env={"GHOST_DATA": str(tmp_path)})["services"]
    for name in ("api", "trainer"):
        (volume,) = services[name]["volumes"]
        assert (volume["type"], volume["source"]) == ("bind", str(tmp_path))


def test_secrets_only_pass_through_from_the_environment(with_trainer):
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    # A key without a value: Compose copies it from the caller's environment, or leaves it unset.
    assert raw["services"]["trainer"]["environment"]["GENIUS_ACCESS_TOKEN"] is None
    assert with_trainer["services"]["trainer"]["environment"]["GENIUS_ACCESS_TOKEN"] is None
    token = "test-token-from-env"
    env = compose_config("train", env={"GENIUS_ACCESS_TOKEN": token})["services"]["trainer"]
    assert env["environment"]["GENIUS_ACCESS_TOKEN"] == token
    assert "GENIUS" not in str(raw["services"]["api"]) + str(raw["services"]["nginx"])


def test_unset_tunables_stay_unset_so_the_code_defaults_apply(served):
    env = served["services"]["api"]["environment"]
    assert env["GHOST_MAX_INFLIGHT"] is None
    chosen = compose_config(env={"GHOST_MAX_INFLIGHT": "7"})["services"]["api"]["environment"]
    assert chosen["GHOST_MAX_INFLIGHT"] == "7"


def test_images_build_from_the_docker_folder(with_trainer):
    for name, service in with_trainer["services"].items():
        assert service["build"]["dockerfile"] == f"docker/{name}.Dockerfile"


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (lambda c: c["services"]["api"].update(healthcheck={"tset": ["CMD", "true"]}), "tset"),
        (lambda c: c["services"]["nginx"].update(ports=[{"target": "five"}]), "target"),
        (lambda c: c["services"]["api"].update(read_only="sometimes"), "read_only"),
        (lambda c: c["services"]["api"].update(memory_limit="1G"), "memory_limit"),
    ],
)
def test_the_compose_cli_rejects_broken_variants(tmp_path, edit, complaint):
    # Proves the validation above is live: the same CLI fails on a one-key mistake.
    config = yaml.safe_load(COMPOSE_FILE.read_text())
    edit(config)
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(config))
    result = run_compose("-f", str(broken), "config", "-q", cwd=tmp_path)
    assert result.returncode != 0
    assert complaint in result.stderr


def readme_compose_commands() -> list[list[str]]:
    """The `docker compose …` lines of the README's code block for one server."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("### One EC2 instance with Docker Compose") :]
    block = section[section.index("```sh") : section.index("```", section.index("```sh") + 5)]
    lines = [line.split("#")[0].split() for line in block.splitlines()]
    return [words[2:] for words in lines if words[:2] == ["docker", "compose"]]


def compose_calls_of_the_stack_test() -> list[list[str]]:
    tree = ast.parse((REPO_ROOT / "tests/compose/test_compose_stack.py").read_text())
    return [
        [arg.value for arg in node.args if isinstance(arg, ast.Constant)]
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "compose"
    ]


def test_the_readme_deploy_commands_are_the_ones_the_stack_test_runs():
    commands = readme_compose_commands()
    assert len(commands) >= 5
    calls = compose_calls_of_the_stack_test()
    for command in commands:
        assert any(call[: len(command)] == command for call in calls), command
