"""The packages depend on each other in one direction: contracts ← serving ← api, model, bench.

Every import statement counts, a function's deferred import too: an arrow is an arrow even when
it is taken late. The stages (crawler, corpus, model) share only contracts.py (and model the
serving core: sampling, export's parity check); the serving core knows nothing of HTTP.
"""

import ast
from pathlib import Path

import pytest

from tests.deploy.deploy_files import REPO_ROOT

FIRST_PARTY = {"contracts", "cli", "crawler", "corpus", "model", "serving", "api", "stack", "bench"}
# package → the first-party packages it may import (itself always).
ALLOWED = {
    "contracts": set(),
    "cli": set(),
    "crawler": {"contracts", "cli"},
    "corpus": {"contracts", "cli"},
    "serving": {"contracts"},
    "model": {"contracts", "cli", "serving"},
    "api": {"contracts", "serving"},
    "stack": {"contracts", "cli"},
    "bench": FIRST_PARTY,  # measures every stage
}


def imported_packages(path: Path) -> set[str]:
    """First-party top-level packages named by any import statement in a module."""
    tops = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            tops |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return tops & FIRST_PARTY


def modules(package: str) -> list[Path]:
    if package in ("contracts", "cli"):
        return [REPO_ROOT / f"{package}.py"]
    return sorted((REPO_ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_follow_the_dependency_direction(package):
    wrong = {}
    for path in modules(package):
        outside = imported_packages(path) - ALLOWED[package] - {package}
        if outside:
            wrong[str(path.relative_to(REPO_ROOT))] = sorted(outside)
    assert wrong == {}


def test_every_first_party_package_has_a_rule():
    packages = {p.name for p in REPO_ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert packages - {"tests"} == set(ALLOWED) - {"contracts", "cli"}


def test_the_walk_sees_a_deferred_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from api.app import create_app\n    import serving.fit\n")
    assert imported_packages(module) == {"api", "serving"}
