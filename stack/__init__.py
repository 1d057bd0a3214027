"""The serving stack on this machine, no Docker: nginx in front of uWSGI in front of the app.

    python -m stack --model data/serving/NAME [--model …] [--port 5000]  (`make serve`)

A development and test tool beside nginx/ and frontend/, whose files it needs; the api image
does not ship it. Tests and benchmarks use `NativeStack`, a context manager that starts the
same stack on free loopback ports:

    with NativeStack(models_dir=path, app_env={"GHOST_MAX_INFLIGHT": "4"}) as stack:
        requests.get(stack.url + "/generate", params={"prefix": "Hello"})
"""

from stack.config_files import (
    FRONTEND_ROOT,
    NGINX_DEFAULTS,
    PLACEHOLDER,
    REPO_ROOT,
    SITE_TEMPLATE,
    UWSGI_INI,
    read_env_file,
    render,
)
from stack.native import NativeStack, models_folder
from stack.processes import StackError, find_binary, free_port, stop_process

__all__ = [
    "FRONTEND_ROOT",
    "NGINX_DEFAULTS",
    "PLACEHOLDER",
    "REPO_ROOT",
    "SITE_TEMPLATE",
    "UWSGI_INI",
    "NativeStack",
    "StackError",
    "find_binary",
    "free_port",
    "models_folder",
    "read_env_file",
    "render",
    "stop_process",
]
