"""The README stays in step with the code it documents: routes, parameters, settings, commands."""

import dataclasses
import re
from pathlib import Path

import pytest

from api.openapi import document
from api.request_parsing import RequestBounds
from serving import config

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


@pytest.fixture(scope="module")
def openapi(tmp_path_factory):
    settings = config.load({"models_dir": tmp_path_factory.mktemp("models")})
    bounds = RequestBounds(settings.max_length, settings.max_prefix_chars, None, models=())
    return document(bounds)


def section(title: str) -> str:
    match = re.search(rf"^## {title}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_route_table_matches_the_openapi_document(openapi):
    documented = set(re.findall(r"^\| `(GET|POST) (/[^`]*)` \|", section("The API"), re.M))
    served = {(method.upper(), path) for path, ops in openapi["paths"].items() for method in ops}
    assert documented == served


def test_generation_parameters_match_the_openapi_document(openapi):
    line = re.search(r"^Generation parameters: (.*?)\.$", section("The API"), re.M | re.S)
    documented = re.findall(r"`(\w+)`", line.group(1))
    served = [p["name"] for p in openapi["paths"]["/generate"]["get"]["parameters"]]
    assert sorted(documented) == sorted(served)


def test_every_api_setting_is_in_the_configuration_table_with_its_default():
    table = section("Configuration")
    rows = dict(re.findall(r"^\| `(GHOST_\w+)` \| `([^`]*)` \|", table, re.M))
    for field in dataclasses.fields(config.Settings):
        name = f"GHOST_{field.name.upper()}"
        assert f"`{name}`" in table, name
        if name not in rows:
            continue
        if isinstance(field.default, str):
            assert rows[name] == field.default, f"{name}: README says {rows[name]}"
        elif isinstance(field.default, int | float):
            assert float(rows[name]) == field.default, f"{name}: README says {rows[name]}"


def test_the_two_commands_come_first_and_ci_runs_the_test_command():
    first_block = re.search(r"```sh\n(.*?)```", README, re.S).group(1)
    assert re.findall(r"^make (\w+)", first_block, re.M) == ["demo", "test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.findall(r"^make .*$", ci, re.M) == ["make test", "make compose-test"]
    assert "`make compose-test`" in README
