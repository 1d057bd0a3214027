"""The WSGI entry point uWSGI imports in each worker starts loading the models by itself."""

import os
import subprocess
import sys

from tests.fixtures.models import REPO_ROOT

# Waits on the registry's ready flag, which (unlike wait_ready) starts nothing itself.
READY_WITHOUT_A_REQUEST = (
    "from api import service; from api.wsgi import app; "
    "print(app.extensions[service.EXTENSION].registry.ready.wait(60))"
)


def test_importing_the_entry_point_loads_the_models_without_a_request(tiny_serving_model):
    env = {**os.environ, "GHOST_MODELS_DIR": str(tiny_serving_model.models_dir)}
    result = subprocess.run(
        [sys.executable, "-c", READY_WITHOUT_A_REQUEST],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "True"
