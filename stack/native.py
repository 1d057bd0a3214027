"""`NativeStack`: nginx and uWSGI started with the project's config files, stopped in order."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from stack.config_files import (
    FRONTEND_ROOT,
    MAIN_TEMPLATE,
    NGINX_DEFAULTS,
    NGINX_TUNABLES,
    REPO_ROOT,
    SITE_TEMPLATE,
    UWSGI_INI,
    read_env_file,
    render,
)
from stack.processes import (
    StackError,
    StartOutput,
    find_binary,
    free_port,
    log_tail,
    stop_process,
)

POLL_INTERVAL_S = 0.1
START_ATTEMPTS = 3


@contextlib.contextmanager
def models_folder(models: Sequence[Path]) -> Iterator[Path]:
    """A temporary GHOST_MODELS_DIR holding only these exported models (as links).

    The app serves every model in its folder, and each one loaded in a worker brings its own
    threads: on a small machine a second model slowed the first (~40 % on 2 cores, measured with
    the CTranslate2 engine). Serving a folder of data/serving/ would load them all.
    """
    with tempfile.TemporaryDirectory(prefix="ghost-models-") as folder:
        for model in models:
            (Path(folder) / model.name).symlink_to(Path(model).resolve())
        yield Path(folder)


class NativeStack:
    """nginx and uWSGI started with the project's config files; `with` stops both.

    models_dir: folder of serving folders (GHOST_MODELS_DIR); default_model: one of their names.
    port: nginx's port on `host` (0: a free one). app_env: GHOST_* settings for the app and uWSGI
    (e.g. GHOST_MAX_INFLIGHT, GHOST_UWSGI_THREADS). nginx_env: overrides of nginx/defaults.env
    (e.g. GHOST_NGINX_RATE). console: servers log to this terminal instead of files; what they
    print until the stack is ready (uWSGI's ~35-line banner, nginx's log of the readiness checks)
    is shown only if the start fails, unless verbose.
    After start(): `url`, `uwsgi_pid` (the master; its children are the workers), `nginx_pid`.
    """

    def __init__(
        self,
        *,
        models_dir: Path,
        default_model: str | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        app_env: Mapping[str, str] | None = None,
        nginx_env: Mapping[str, str] | None = None,
        console: bool = False,
        verbose: bool = False,
        ready_timeout: float = 60.0,
    ):
        self.models_dir = Path(models_dir).resolve()
        self.default_model = default_model
        self.fixed_port = bool(port)
        self.port = port or free_port()
        self.host = host
        self.app_env = dict(app_env or {})
        self.nginx_env = dict(nginx_env or {})
        self.console = console
        self.verbose = verbose
        self.ready_timeout = ready_timeout
        self.uwsgi_address = f"127.0.0.1:{free_port()}"
        self.run_dir: Path | None = None
        self.uwsgi: subprocess.Popen | None = None
        self.nginx: subprocess.Popen | None = None
        self.start_outputs: dict[str, StartOutput] = {}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def access_log(self) -> Path:
        """nginx's access log (with request_time=, in seconds, per request); not in console mode."""
        assert self.run_dir is not None and not self.console, "start() first, without console"
        return self.run_dir / "nginx-access.log"

    @property
    def page_dir(self) -> Path:
        """The copy of frontend/ that nginx serves."""
        assert self.run_dir is not None, "start() first"
        return self.run_dir / "page"

    @property
    def uwsgi_pid(self) -> int:
        assert self.uwsgi is not None, "start() first"
        return self.uwsgi.pid

    @property
    def nginx_pid(self) -> int:
        assert self.nginx is not None, "start() first"
        return self.nginx.pid

    def __enter__(self) -> "NativeStack":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._start_once()
                return
            except StackError as error:
                # Between free_port() and the bind, another process (even an outgoing
                # connection) may take the port: pick new ones, unless the caller chose them.
                if "Address already in use" not in str(error) or self.fixed_port:
                    raise
                if attempt == START_ATTEMPTS:
                    raise
                self.port, self.uwsgi_address = free_port(), f"127.0.0.1:{free_port()}"

    def _start_once(self) -> None:
        # Readable by nginx's unprivileged workers when it runs as root: they use its temp folders,
        # and serve the page from a copy here (they may not enter a private checkout, as in /root).
        self.run_dir = Path(tempfile.mkdtemp(prefix="ghost-stack-"))
        self.run_dir.chmod(0o755)
        shutil.copytree(FRONTEND_ROOT, self.page_dir)
        try:
            self.uwsgi = self._start_uwsgi()
            self.nginx = self._start_nginx()
            self.wait_ready()
            self._end_start_output()
        except BaseException:
            self.stop()
            raise

    def _end_start_output(self) -> None:
        """On the console, what the servers print from now on is shown. nginx logs a request
        after answering it, so the last readiness check's line may come after this point: the
        log line of one more request, carrying the marker, ends nginx's start output."""
        for name, output in self.start_outputs.items():
            if name == "nginx" and self.readyz_status(user_agent=output.marker) is not None:
                output.stop_writing()
            else:
                output.release()

    def _spawn(self, argv: list[str], *, env: Mapping[str, str], log_name: str):
        """A server in its own session: Ctrl-C reaches only this runner, which stops it in order.
        On the console its start-up output is held back (StartOutput), unless verbose."""
        if self.console and self.verbose:
            return subprocess.Popen(argv, cwd=REPO_ROOT, env=env, start_new_session=True)
        if self.console:
            output = self.start_outputs[Path(log_name).stem] = StartOutput()
            proc = subprocess.Popen(
                argv, cwd=REPO_ROOT, env=env, stdout=output.write_end, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            output.attach(proc)
            return proc
        with (self.run_dir / log_name).open("ab") as log:
            return subprocess.Popen(
                argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def _start_uwsgi(self) -> subprocess.Popen:
        env = self.uwsgi_environment(self.uwsgi_address)
        return self._spawn(self.uwsgi_command(), env=env, log_name="uwsgi.log")

    def uwsgi_command(self) -> list[str]:
        uwsgi = find_binary("uwsgi", fallbacks=(Path(sys.executable).with_name("uwsgi"),))
        return [uwsgi, "--ini", str(UWSGI_INI)]

    def uwsgi_environment(self, socket_address: str) -> dict[str, str]:
        """uWSGI's environment: this stack's models and settings, listening on socket_address."""
        return {
            **os.environ,
            "GHOST_MODELS_DIR": str(self.models_dir),
            **({"GHOST_DEFAULT_MODEL": self.default_model} if self.default_model else {}),
            **self.app_env,
            "GHOST_UWSGI_SOCKET": socket_address,
            # The app's package is imported from this checkout, whatever the working directory.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.getenv("PYTHONPATH")])),
        }

    def nginx_values(self) -> dict[str, str]:
        """The site template's variables: defaults, then environment tunables, then this run's."""
        values = read_env_file(NGINX_DEFAULTS)
        values.update({key: os.environ[key] for key in NGINX_TUNABLES if key in os.environ})
        values.update(
            GHOST_NGINX_LISTEN=f"{self.host}:{self.port}",
            GHOST_UWSGI_ADDRESS=self.uwsgi_address,
            # The uWSGI address is an IP: nginx never asks a resolver, but the directive wants one.
            GHOST_NGINX_RESOLVER="127.0.0.1",
            GHOST_FRONTEND_ROOT=str(self.page_dir),
            GHOST_NGINX_TEMP_DIR=str(self.run_dir),
        )
        values.update(self.nginx_env)
        return values

    def _write_nginx_conf(self) -> Path:
        site_conf = self.run_dir / "ghostwriter.conf"
        site_conf.write_text(render(SITE_TEMPLATE.read_text(), self.nginx_values()))
        main_conf = self.run_dir / "nginx.conf"
        logs = {"error_log": "stderr", "access_log": "/dev/stdout"}
        if not self.console:
            logs = {
                "error_log": str(self.run_dir / "nginx-error.log"),
                "access_log": str(self.access_log),
            }
        main = render(
            MAIN_TEMPLATE.read_text(),
            {"pid_file": str(self.run_dir / "nginx.pid"), "site_conf": str(site_conf), **logs},
        )
        main_conf.write_text(main)
        return main_conf

    def _start_nginx(self) -> subprocess.Popen:
        nginx = find_binary("nginx")
        argv = [nginx, "-p", str(self.run_dir), "-c", str(self._write_nginx_conf())]
        check = subprocess.run([*argv, "-t", "-q"], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise StackError(f"nginx rejects its configuration:\n{check.stderr.strip()}")
        return self._spawn(argv, env=dict(os.environ), log_name="nginx.log")

    def wait_ready(self, timeout: float | None = None) -> None:
        """Returns when /readyz answers 200 via nginx; StackError if a server dies or time is up."""
        deadline = time.monotonic() + (self.ready_timeout if timeout is None else timeout)
        while True:
            self.check_alive()
            if self.readyz_status() == 200:
                return
            if time.monotonic() > deadline:
                raise StackError(f"not ready after {self.ready_timeout:.0f} s\n{self.log_tails()}")
            time.sleep(POLL_INTERVAL_S)

    def readyz_status(self, user_agent: str = "ghostwriter-stack") -> int | None:
        """/readyz's status through nginx; None when nothing answers."""
        request = urllib.request.Request(self.url + "/readyz", headers={"User-Agent": user_agent})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return None

    def check_alive(self) -> None:
        for name, proc in (("uWSGI", self.uwsgi), ("nginx", self.nginx)):
            if proc is not None and proc.poll() is not None:
                raise StackError(f"{name} exited with {proc.returncode}\n{self.log_tails()}")

    def log_tails(self) -> str:
        """The end of each server's logs; on the console, what they printed while starting."""
        if self.console:
            return "\n".join(f"--- {n}\n{out.held()}" for n, out in self.start_outputs.items())
        if self.run_dir is None:
            return ""
        names = ("uwsgi.log", "nginx.log", "nginx-error.log")
        return "\n".join(f"--- {n}\n{log_tail(self.run_dir / n)}" for n in names)

    def wait(self) -> str:
        """Blocks while both servers run; returns the name of the one that stopped."""
        while True:
            for name, proc in (("uWSGI", self.uwsgi), ("nginx", self.nginx)):
                if proc.poll() is not None:
                    return name
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.uwsgi.wait(timeout=1.0)

    def stop(self) -> None:
        """nginx first (it stops taking requests), then uWSGI; each killed if it will not stop."""
        # SIGQUIT: nginx finishes the responses in flight; SIGTERM: uWSGI exits (die-on-term).
        stop_process(self.nginx, signal.SIGQUIT)
        stop_process(self.uwsgi, signal.SIGTERM)
        for output in self.start_outputs.values():
            output.close()
        self.start_outputs.clear()
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None
