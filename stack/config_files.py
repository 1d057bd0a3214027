"""The project's server config files, shared with the containers, and filling them in natively."""

import re
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
UWSGI_INI = REPO_ROOT / "api" / "uwsgi.ini"
NGINX_DIR = REPO_ROOT / "nginx"
SITE_TEMPLATE = NGINX_DIR / "ghostwriter.conf.template"
MAIN_TEMPLATE = NGINX_DIR / "native.conf.in"
NGINX_DEFAULTS = NGINX_DIR / "defaults.env"
FRONTEND_ROOT = REPO_ROOT / "frontend"

# The nginx settings a user may tune from the environment natively; the addresses, folders and
# port are the runner's to choose.
NGINX_TUNABLES = (
    "GHOST_NGINX_RATE",
    "GHOST_NGINX_BURST",
    "GHOST_NGINX_CONN_LIMIT",
    "GHOST_NGINX_READ_TIMEOUT",
    "GHOST_NGINX_METRICS_ALLOW",
    "GHOST_NGINX_TRUSTED_PROXY",
)
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (the format compose's env_file reads); blank lines and # comments skipped."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path}: not KEY=VALUE: {line!r}"
            values[key.strip()] = value.strip()
    return values


def render(template: str, values: Mapping[str, str]) -> str:
    """Fills ${NAME} as envsubst does; nginx's own $variables are left alone."""
    missing = sorted(set(PLACEHOLDER.findall(template)) - values.keys())
    if missing:
        raise ValueError(f"no value for {', '.join(missing)}: set it in nginx/defaults.env")
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
