"""What the api image holds is enough to run the app, and holds no TensorFlow.

The image copies api/ and installs pyproject's `serve` extra. Every module-level import in api/
must therefore be the standard library, api itself, or a distribution that the `serve` extra
brings in (directly or as a dependency); TensorFlow and gpt-2-simple may only be imported inside
the functions of the reference engine, which the image never selects.
"""

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from tests.deploy.deploy_files import DOCKERFILES, REPO_ROOT, parse_dockerfile

API_DIR = REPO_ROOT / "api"
# Present only inside a running uWSGI (its embedded module), never installed as a distribution.
UWSGI_EMBEDDED = {"uwsgi", "uwsgidecorators"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distribution_closure(requirements: list[str]) -> set[str]:
    """The named distributions and all they require on this Python (installed metadata)."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        name = canonical(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        todo += [Requirement(r) for r in metadata.requires(name) or []]
    return seen


def module_level_imports(path: Path) -> set[str]:
    """Dotted names imported outside any function or class body (`from a.b import c` gives a.b
    and a.b.c, since c may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        for inner in ast.walk(node) if isinstance(node, ast.If | ast.Try | ast.With) else [node]:
            if isinstance(inner, ast.Import):
                names |= {alias.name for alias in inner.names}
            elif isinstance(inner, ast.ImportFrom) and inner.level == 0 and inner.module:
                names.add(inner.module)
                names |= {f"{inner.module}.{alias.name}" for alias in inner.names}
    return names


def module_path(name: str) -> Path | None:
    """The file of a first-party module in this checkout, if `name` is one."""
    base = REPO_ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def loaded_at_import(entry: str) -> dict[str, set[str]]:
    """First-party modules that importing `entry` loads, each with the names it imports."""
    found: dict[str, set[str]] = {}
    todo = [entry]
    while todo:
        name = todo.pop()
        path = module_path(name)
        if name in found or path is None:
            continue
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run first
        found[name] = module_level_imports(path)
        todo += sorted(found[name])
    return found


def wsgi_entry_module() -> str:
    """The module of `module = api.wsgi:app` in api/uwsgi.ini."""
    ini = (API_DIR / "uwsgi.ini").read_text()
    return re.search(r"^module = ([\w.]+):\w+$", ini, flags=re.M).group(1)


def serve_modules() -> set[str]:
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    serve = distribution_closure(extras["optional-dependencies"]["serve"])
    provided = set()
    for module, dists in metadata.packages_distributions().items():
        if any(canonical(d) in serve for d in dists):
            provided.add(module)
    return provided


def test_the_api_image_copies_the_api_and_serving_packages_and_the_contracts():
    copies = [
        i["value"] for i in parse_dockerfile(DOCKERFILES["api"]) if i["instruction"] == "COPY"
    ]
    assert "api/ api/" in copies
    assert "serving/ serving/" in copies
    assert "contracts.py ./" in copies


def test_importing_the_wsgi_app_needs_only_what_the_image_installs():
    allowed = set(sys.stdlib_module_names) | serve_modules() | UWSGI_EMBEDDED
    modules = loaded_at_import(wsgi_entry_module())
    assert "api.wsgi" in modules
    outside = {}
    for module, imported in modules.items():
        # `from contracts import EOS_TOKEN`: a name in a first-party module, not a module.
        tops = {name.split(".")[0] for name in imported}
        third_party = {top for top in tops if module_path(top) is None} - allowed
        if third_party:
            outside[module] = sorted(third_party)
    assert outside == {}, "add these to the serve extra, or import them only where needed"
    # Everything the app loads is code the image copies: api/, serving/ and contracts.py.
    assert {module.split(".")[0] for module in modules} == {"api", "serving", "contracts"}


def test_training_packages_stay_out_of_the_serve_extra():
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    closure = distribution_closure(extras["optional-dependencies"]["serve"])
    assert closure.isdisjoint({"tensorflow", "tensorflow-cpu", "gpt-2-simple", "scrapy"})


def test_the_import_walk_sees_eager_and_skips_lazy_imports(tmp_path):
    # The check above is live: a module-level TensorFlow import is reported, a lazy one is not.
    eager = tmp_path / "eager.py"
    eager.write_text("import tensorflow as tf\nfrom serving.engines import base\n")
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def load():\n    import tensorflow as tf\n    return tf\n")
    assert module_level_imports(eager) == {"tensorflow", "serving.engines", "serving.engines.base"}
    assert module_level_imports(lazy) == set()
    assert "serving.engines.tensorflow_engine" not in loaded_at_import(wsgi_entry_module())
