"""The config files themselves: one nginx template for Docker and the native run, uWSGI's ini."""

import subprocess

import pytest

import stack as native_stack
from serving.config import Settings
from stack import NGINX_DEFAULTS, PLACEHOLDER, SITE_TEMPLATE, UWSGI_INI, read_env_file, render


def template_variables() -> set[str]:
    return set(PLACEHOLDER.findall(SITE_TEMPLATE.read_text()))


def test_every_template_variable_has_a_default_for_compose():
    # envsubst in the nginx image fills only variables that are set: a missing default would
    # leave a literal ${NAME} in the config and nginx would refuse to start.
    assert template_variables() == set(read_env_file(NGINX_DEFAULTS))


def test_the_container_values_make_a_valid_nginx_config(tmp_path):
    # What the official image renders (defaults.env), included from an http block the way its
    # main nginx.conf includes conf.d/*.conf; `nginx -t` parses every directive.
    values = {**read_env_file(NGINX_DEFAULTS), "GHOST_NGINX_TEMP_DIR": str(tmp_path)}
    # `local` is docker/nginx-resolver.envsh's word for the container's nameserver.
    assert values["GHOST_NGINX_RESOLVER"] == "local"
    values["GHOST_NGINX_RESOLVER"] = "127.0.0.11"
    site = tmp_path / "ghostwriter.conf"
    site.write_text(render(SITE_TEMPLATE.read_text(), values))
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n    access_log off;\n    include {site};\n}}\n"
    )
    nginx = native_stack.find_binary("nginx")
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "api:3031" in site.read_text()


def test_render_fills_only_its_variables_and_names_a_missing_one():
    text = "listen ${GHOST_NGINX_LISTEN};\nmap $status $x { }\nset $a ${GHOST_B};"
    assert render(text, {"GHOST_NGINX_LISTEN": "5000", "GHOST_B": "b"}) == (
        "listen 5000;\nmap $status $x { }\nset $a b;"
    )
    with pytest.raises(ValueError, match="GHOST_B"):
        render(text, {"GHOST_NGINX_LISTEN": "5000"})


def test_native_values_override_the_container_defaults_and_environment_tunes(monkeypatch, tmp_path):
    monkeypatch.setenv("GHOST_NGINX_RATE", "3r/s")
    monkeypatch.setenv("GHOST_UWSGI_ADDRESS", "elsewhere:1")  # the runner's to choose, not env's
    stack = native_stack.NativeStack(
        models_dir=tmp_path, port=5999, nginx_env={"GHOST_NGINX_BURST": "7"}
    )
    stack.run_dir = tmp_path
    values = stack.nginx_values()
    assert values["GHOST_NGINX_RATE"] == "3r/s"
    assert values["GHOST_NGINX_BURST"] == "7"
    assert values["GHOST_NGINX_LISTEN"] == "127.0.0.1:5999"
    assert values["GHOST_UWSGI_ADDRESS"] == stack.uwsgi_address
    assert values["GHOST_FRONTEND_ROOT"] == str(tmp_path / "page")


def uwsgi_options() -> dict[str, list[str]]:
    """api/uwsgi.ini's options (every value given, in order, whatever `if-env` block)."""
    options: dict[str, list[str]] = {}
    for line in UWSGI_INI.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith(("#", "[")):
            options.setdefault(name.strip(), []).append(value.strip())
    return options


def test_uwsgi_has_no_harakiri_and_logs_only_errors_and_slow_requests():
    # uWSGI 2.0 keeps one harakiri deadline per worker, shared by its 80 threads: it killed a
    # worker with no long request in flight. The app ends each request at GHOST_MAX_REQUEST_S.
    options = uwsgi_options()
    assert not [name for name in options if name.startswith("harakiri")], options
    # nginx keeps the one access log.
    assert options["disable-logging"] == ["true"] and "log-4xx" not in options
    assert "log-5xx" not in options and "log-slow" in options


def test_nginx_waits_for_uwsgi_longer_than_the_app_lets_a_request_run():
    read_timeout = read_env_file(NGINX_DEFAULTS)["GHOST_NGINX_READ_TIMEOUT"]
    assert read_timeout.endswith("s")
    assert int(read_timeout[:-1]) > Settings.max_request_s
    assert int(uwsgi_options()["worker-reload-mercy"][0]) >= Settings.max_request_s
