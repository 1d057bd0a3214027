"""What the trainer image holds is enough to import `python -m model export`.

Export's parity check and `python -m model sample` run the serving core (serving/), so the image
copies it as well; it installs the `crawl` and `train` extras, which have no Flask, so nothing
export or sample loads may need Flask or anything else of the HTTP layer (api/).
"""

import sys
import tomllib
from importlib import metadata

from tests.deploy.deploy_files import DOCKERFILES, REPO_ROOT, final_stage, parse_dockerfile
from tests.deploy.test_api_image_contents import (
    canonical,
    distribution_closure,
    loaded_at_import,
    module_path,
)

EXPORT_ENTRIES = ("model.__main__", "model.export", "model.sample")


def trainer_installed_modules() -> set[str]:
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = extras["optional-dependencies"]
    installed = distribution_closure(wanted["crawl"] + wanted["train"])
    return {
        module
        for module, dists in metadata.packages_distributions().items()
        if any(canonical(d) in installed for d in dists)
    }


def trainer_copied_code() -> set[str]:
    """First-party top-level modules the trainer image copies (`COPY serving/ serving/`)."""
    sources = [
        source
        for ins in final_stage(parse_dockerfile(DOCKERFILES["trainer"]))
        if ins["instruction"] == "COPY"
        for source in ins["value"].split()[:-1]  # the last word is the destination
    ]
    return {source.rstrip("/").removesuffix(".py") for source in sources}


def test_export_imports_only_code_the_trainer_image_copies():
    modules = {name for entry in EXPORT_ENTRIES for name in loaded_at_import(entry)}
    assert "serving.tokenizer" in modules
    assert {name.split(".")[0] for name in modules} <= trainer_copied_code()


def test_export_imports_only_packages_the_trainer_image_installs():
    allowed = set(sys.stdlib_module_names) | trainer_installed_modules()
    assert "flask" not in allowed
    outside = {}
    for entry in EXPORT_ENTRIES:
        for module, imported in loaded_at_import(entry).items():
            tops = {name.split(".")[0] for name in imported}
            third_party = {top for top in tops if module_path(top) is None} - allowed
            if third_party:
                outside[module] = sorted(third_party)
    assert outside == {}, "add these to the train extra, or import them only where needed"
