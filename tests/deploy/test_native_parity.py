"""Every port, path and variable the containers and manifests name matches the native stack's files:
nginx/defaults.env and the site template, api/uwsgi.ini, serving/config.py, the native runner."""

import configparser
import re
from pathlib import Path

import pytest

import stack as native_stack
from serving import config
from tests.deploy.deploy_files import (
    DOCKERFILES,
    REPO_ROOT,
    compose_config,
    k8s_object,
    parse_dockerfile,
)

TEMPLATE = native_stack.SITE_TEMPLATE
NGINX_DEFAULTS = native_stack.read_env_file(native_stack.NGINX_DEFAULTS)
TEMPLATE_VARIABLES = set(native_stack.PLACEHOLDER.findall(TEMPLATE.read_text()))
UWSGI_INI_TEXT = native_stack.UWSGI_INI.read_text()


@pytest.fixture(scope="module")
def services() -> dict:
    return compose_config("train")["services"]


def dockerfile_env(name: str) -> dict[str, str]:
    env = {}
    for ins in parse_dockerfile(DOCKERFILES[name]):
        if ins["instruction"] == "ENV":
            env.update(re.findall(r"(\w+)=(\S+)", ins["value"]))
    return env


def copy_destination(name: str, source: str) -> str:
    for ins in parse_dockerfile(DOCKERFILES[name]):
        if ins["instruction"] == "COPY" and ins["value"].split()[0] == source:
            return ins["value"].split()[-1]
    raise AssertionError(f"{name}: no COPY {source}")


def uwsgi_default_socket() -> str:
    """The `socket` api/uwsgi.ini uses when GHOST_UWSGI_SOCKET is unset."""
    block = re.search(r"if-not-env = GHOST_UWSGI_SOCKET\nsocket = (\S+)\nendif =", UWSGI_INI_TEXT)
    assert block, "api/uwsgi.ini: no default socket block"
    return block.group(1)


def port_of(address: str) -> int:
    return int(address.rpartition(":")[2])


def variables_read_by_the_code() -> set[str]:
    """GHOST_* names the app, uWSGI, the model CLI and the pipeline read."""
    names = {f"GHOST_{field.name.upper()}" for field in config.fields(config.Settings)}
    names |= set(re.findall(r"if-(?:not-)?env = (GHOST_\w+)", UWSGI_INI_TEXT))
    names |= TEMPLATE_VARIABLES
    for path in [*REPO_ROOT.glob("model/*.py"), REPO_ROOT / "deploy/pipeline.sh"]:
        names |= set(re.findall(r"GHOST_[A-Z_]+", path.read_text()))
    return names


def test_uwsgi_ini_is_valid_ini_with_the_wsgi_entry():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(re.sub(r"^(if-(?:not-)?env|endif) =.*$", "", UWSGI_INI_TEXT, flags=re.M))
    assert parser["uwsgi"]["module"] == "api.wsgi:app"


def test_compose_gives_nginx_every_template_variable(services):
    nginx_env = services["nginx"]["environment"]
    assert set(nginx_env) >= TEMPLATE_VARIABLES
    assert {k: nginx_env[k] for k in NGINX_DEFAULTS} == NGINX_DEFAULTS
    assert dockerfile_env("nginx")["NGINX_ENVSUBST_FILTER"] == "^GHOST_"


def test_nginx_listens_where_compose_publishes(services):
    (port,) = services["nginx"]["ports"]
    assert int(NGINX_DEFAULTS["GHOST_NGINX_LISTEN"]) == port["target"]
    assert f"http://127.0.0.1:{port['target']}/readyz" in services["nginx"]["healthcheck"]["test"]
    exposed = [
        i["value"] for i in parse_dockerfile(DOCKERFILES["nginx"]) if i["instruction"] == "EXPOSE"
    ]
    assert exposed == [str(port["target"])]


def test_nginx_finds_the_api_service_on_its_uwsgi_port(services):
    host, _, port = NGINX_DEFAULTS["GHOST_UWSGI_ADDRESS"].rpartition(":")
    assert host in services  # the service name: Docker's DNS answers with every replica
    assert services[host]["expose"] == [port]
    assert port_of(dockerfile_env("api")["GHOST_UWSGI_SOCKET"]) == int(port)
    assert port_of(uwsgi_default_socket()) == int(port)
    # The container's own DNS (Docker's embedded server), read by docker/nginx-resolver.envsh.
    assert NGINX_DEFAULTS["GHOST_NGINX_RESOLVER"] == "local"


def test_k8s_uses_the_same_ports_and_variables():
    (api,) = k8s_object("Deployment", "ghostwriter-api")["spec"]["template"]["spec"]["containers"]
    (nginx,) = k8s_object("Deployment", "ghostwriter-nginx")["spec"]["template"]["spec"][
        "containers"
    ]
    uwsgi_port = port_of(uwsgi_default_socket())
    assert api["ports"][0]["containerPort"] == uwsgi_port
    assert k8s_object("Service", "ghostwriter-api")["spec"]["ports"][0]["port"] == uwsgi_port
    nginx_env = {item["name"]: item["value"] for item in nginx["env"]}
    assert set(nginx_env) == TEMPLATE_VARIABLES
    assert int(nginx_env["GHOST_NGINX_LISTEN"]) == nginx["ports"][0]["containerPort"]
    assert nginx_env["GHOST_FRONTEND_ROOT"] == NGINX_DEFAULTS["GHOST_FRONTEND_ROOT"]


def test_the_page_is_copied_where_nginx_serves_it():
    destination = copy_destination("nginx", "frontend/").rstrip("/")
    assert destination == NGINX_DEFAULTS["GHOST_FRONTEND_ROOT"]
    assert native_stack.FRONTEND_ROOT == REPO_ROOT / "frontend"


def test_the_rendered_site_is_where_the_main_config_includes_it():
    template_dest = copy_destination("nginx", "nginx/ghostwriter.conf.template")
    assert template_dest == "/etc/nginx/templates/ghostwriter.conf.template"
    output_dir = dockerfile_env("nginx")["NGINX_ENVSUBST_OUTPUT_DIR"]
    main_conf = (REPO_ROOT / "docker/nginx.conf").read_text()
    assert f"include {output_dir}/ghostwriter.conf;" in main_conf
    assert copy_destination("nginx", "docker/nginx.conf") == "/etc/nginx/nginx.conf"


def test_writable_paths_are_the_containers_tmpfs(services):
    assert NGINX_DEFAULTS["GHOST_NGINX_TEMP_DIR"] == "/tmp"
    assert dockerfile_env("nginx")["NGINX_ENVSUBST_OUTPUT_DIR"] == "/tmp"
    assert "pid /tmp/nginx.pid;" in (REPO_ROOT / "docker/nginx.conf").read_text()
    for name in ("nginx", "api"):
        assert services[name]["read_only"] is True
        assert services[name]["tmpfs"] == ["/tmp"]


def test_every_variable_set_for_the_containers_is_read_by_the_code(services):
    known = variables_read_by_the_code()
    named = set()
    for name in ("api", "trainer"):
        named |= {k for k in services[name]["environment"] if k.startswith("GHOST_")}
        named |= {k for k in dockerfile_env(name) if k.startswith("GHOST_")}
    (api,) = k8s_object("Deployment", "ghostwriter-api")["spec"]["template"]["spec"]["containers"]
    named |= {item["name"] for item in api["env"]}
    assert named - known == set()


def test_compose_passes_every_api_setting_through(services):
    settings = {f"GHOST_{f.name.upper()}" for f in config.fields(config.Settings)}
    missing = settings - set(services["api"]["environment"])
    assert missing == set(), "add these api settings to the api service's environment"


def test_models_dir_is_the_serving_folder_of_the_data_dir(services):
    env = services["api"]["environment"]
    assert Path(env["GHOST_MODELS_DIR"]) == Path(env["GHOST_DATA_DIR"]) / "serving"
    loaded = config.load({"models_dir": env["GHOST_MODELS_DIR"]})
    assert loaded.models_dir == Path("/data/serving")


def test_pipeline_in_the_trainer_reads_the_variables_compose_sets(services):
    script = (REPO_ROOT / "deploy/pipeline.sh").read_text()
    for name in services["trainer"]["environment"]:
        if name != "GENIUS_ACCESS_TOKEN":
            assert re.search(rf"\b{name}\b", script), f"deploy/pipeline.sh ignores {name}"
