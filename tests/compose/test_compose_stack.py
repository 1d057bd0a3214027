"""The real docker-compose.yml, run end to end in containers: images built from the Dockerfiles,
the trainer filling the data volume, nginx and the api serving it through the published port.

Runs with `make compose-test` (podman serving the Docker API, stand-in base images built from
Debian by deploy/podman/bases.sh). The tests run in file order and share one stack, as a user's
commands would: build, train, up, scale, down.
"""

import json
import os
import signal
import socket
import time
import uuid
from datetime import datetime

import psutil
import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from tests.compose import podman_host
from tests.compose.podman_host import (
    Compose,
    HealthcheckTicker,
    PodmanService,
    health,
    inspect,
    podman,
    project_containers,
)
from tests.compose.replica_metrics import generate_requests_served

pytestmark = pytest.mark.compose

IMAGES = ("ghostwriter-api", "ghostwriter-nginx", "ghostwriter-trainer")
SECRET = f"ghost-secret-{uuid.uuid4().hex}"  # in the environment of every compose command
MINUTES = "0.3"  # the trainer's fine-tuning budget: enough for a model that writes something
PREFIX = "Ash and Pikachu were"
CHROMIUM = "/usr/bin/chromium"
READY_WAIT_S = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def compose(tmp_path_factory):
    service = PodmanService(tmp_path_factory.mktemp("podman"))
    service.start()
    ticker = HealthcheckTicker()
    ticker.start()
    port = free_port()
    env = {
        "GHOST_PORT": f"127.0.0.1:{port}",
        "MINUTES": MINUTES,
        "GENIUS_ACCESS_TOKEN": SECRET,
    }
    run = Compose(service.docker_host, env)
    run.url = f"http://127.0.0.1:{port}"
    run.healthchecks = ticker
    try:
        yield run
    finally:
        ticker.stopped.set()
        run("--profile", "train", "down", "-v", "--timeout", "5", timeout=120, check=False)
        service.stop()


def wait_until(condition, *, timeout_s: float, what: str, every_s: float = 1.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting until {what}")


def parse_time(text: str) -> datetime:
    """Podman's timestamps carry nanoseconds; datetime keeps microseconds."""
    head, _, rest = text.partition(".")
    digits = "".join(c for c in rest if c.isdigit())[:6]
    zone = rest[len("".join(c for c in rest if c.isdigit())) :].strip() or "Z"
    zone = "+00:00" if zone.upper() in ("Z", "UTC", "+0000 UTC") else zone.split()[0]
    return datetime.fromisoformat(f"{head}.{digits or '0'}{zone}")


def assert_json_error(response: requests.Response) -> None:
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    error = response.json()["error"]
    assert error["message"] and error["type"] in ("not_ready", "internal", "overloaded")


# A first run compiles llama.cpp and installs TensorFlow: over half an hour on 2 shared cores.
@pytest.mark.timeout(3700)
def test_the_three_images_build_from_the_dockerfiles(compose):
    # The secret is in the environment of the build, as on a user's shell: no layer may keep it.
    compose("--profile", "train", "build", timeout=3600)
    for image in IMAGES:
        assert podman("image", "exists", image, check=False).returncode == 0, image


@pytest.mark.timeout(900)
def test_the_trainer_fills_the_volume_from_crawl_to_export(compose):
    # Its output and the volume tell whether it succeeded: through podman 4.3's API, `run --rm`
    # reports exit status 0 whatever the container's.
    result = compose("--profile", "train", "run", "--rm", "trainer", timeout=850)
    for stage in ("crawl", "prepare", "fine-tune", "evaluate", "export"):
        assert f"== {stage}" in result.stdout, result.stdout[-3000:]
    volume = podman("volume", "inspect", f"{podman_host.PROJECT}_ghost-data").stdout
    mountpoint = json.loads(volume)[0]["Mountpoint"]
    served = os.path.join(mountpoint, "serving", "sample")
    assert os.path.isfile(os.path.join(served, "meta.json")), os.listdir(mountpoint)
    assert os.stat(served).st_uid == 10001


@pytest.mark.timeout(600)
def test_up_starts_nginx_only_after_the_api_is_healthy(compose):
    compose("up", "-d", timeout=READY_WAIT_S + 60)
    (api,) = project_containers("api")
    (nginx,) = project_containers("nginx")
    assert health(api) == "healthy"
    first_pass = compose.healthchecks.first_pass_end
    api_healthy = parse_time(wait_until(lambda: first_pass.get(api), timeout_s=30, what="noted"))
    assert api_healthy <= parse_time(inspect(nginx)["State"]["StartedAt"])
    wait_until(lambda: health(nginx) == "healthy", timeout_s=60, what="nginx is healthy")


@pytest.mark.timeout(120)
def test_generate_and_completions_through_the_published_port(compose):
    params = {"prefix": PREFIX, "length": 8, "seed": 1, "temperature": 0.8}
    got = requests.get(compose.url + "/generate", params=params, timeout=60)
    assert got.status_code == 200, got.text
    text = got.json()["samples"][0]["text"]
    assert text
    body = {"prompt": PREFIX, "max_tokens": 8, "seed": 1, "temperature": 0.8}
    posted = requests.post(compose.url + "/v1/completions", json=body, timeout=60)
    assert posted.status_code == 200, posted.text
    assert posted.json()["choices"][0]["text"] == text


@pytest.mark.timeout(120)
def test_a_stream_arrives_as_events_through_the_published_port(compose):
    # How many text events come depends on how fast the tiny model writes (all 30 tokens can be
    # ready before the first read); what does not: text events, then one final event, and the
    # same text as the JSON answer for the same seed.
    params = {"prefix": PREFIX, "length": 30, "seed": 2}
    expected = requests.get(compose.url + "/generate", params=params, timeout=60).json()
    with requests.get(
        compose.url + "/generate", params={**params, "stream": "true"}, stream=True, timeout=60
    ) as got:
        assert got.status_code == 200
        assert got.headers["Content-Type"].startswith("text/event-stream")
        events = [
            json.loads(line.removeprefix(b"data:"))
            for line in got.iter_lines()
            if line.startswith(b"data:")
        ]
    *texts, final = events
    assert texts and all(set(event) == {"index", "text"} for event in texts)
    (sample,) = expected["samples"]
    assert "".join(event["text"] for event in texts) == sample["text"]
    assert final["done"] is True
    assert final["samples"] == [
        {"index": 0, "finish_reason": sample["finish_reason"], "tokens": sample["tokens"]}
    ]
    assert final["usage"] == expected["usage"]


@pytest.mark.timeout(180)
def test_the_page_generates_in_headless_chromium(compose):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(compose.url + "/")
            expect(page.locator("#model option")).not_to_have_count(0, timeout=30_000)
            page.fill("#prefix", PREFIX)
            page.fill("#length", "20")
            page.click("#generate")
            expect(page.locator("#usage")).to_contain_text("tokens generated", timeout=60_000)
            assert page.locator("#output-continuation").text_content().strip()
        finally:
            browser.close()


@pytest.mark.timeout(300)
def test_a_killed_api_comes_back_and_clients_get_json_errors_meanwhile(compose):
    (api,) = project_containers("api")
    restarts = inspect(api)["RestartCount"]
    os.kill(inspect(api)["State"]["Pid"], signal.SIGKILL)  # as the kernel's OOM killer would
    answers = []

    def served_again() -> bool:
        started = time.monotonic()
        response = requests.get(compose.url + "/generate", params={"prefix": "a"}, timeout=30)
        answers.append((response.status_code, time.monotonic() - started))
        if response.status_code != 200:
            assert_json_error(response)
        return response.status_code == 200 and health(api) == "healthy"

    wait_until(served_again, timeout_s=READY_WAIT_S, what="the api is back", every_s=0.5)
    assert inspect(api)["RestartCount"] > restarts
    assert any(status != 200 for status, _ in answers), answers
    assert max(seconds for _, seconds in answers) < 15, answers


@pytest.mark.timeout(600)
def test_scaled_replicas_share_the_requests(compose):
    compose("up", "-d", "--scale", "api=3", timeout=READY_WAIT_S + 60)
    replicas = project_containers("api")
    assert len(replicas) == 3
    for name in replicas:
        wait_until(lambda n=name: health(n) == "healthy", timeout_s=READY_WAIT_S, what=name)

    def served_by_each() -> dict[str, int]:
        return {name: generate_requests_served(name) for name in replicas}

    before, sent = served_by_each(), []

    def each_has_served_a_share() -> dict[str, int] | None:
        for _ in range(3):
            response = requests.get(compose.url + "/generate", params={"prefix": "a"}, timeout=30)
            assert response.status_code == 200, response.text
            sent.append(response)
            time.sleep(0.15)  # under nginx's per-client rate (10/s)
        now = served_by_each()
        shares = {name: now[name] - before[name] for name in replicas}
        return shares if min(shares.values()) > 0 else None

    # nginx re-resolves `api` every 10 s, so new replicas join its list within that.
    shares = wait_until(each_has_served_a_share, timeout_s=90, what="each served", every_s=0)
    assert sum(shares.values()) == len(sent), shares  # each request counted by one replica


def test_processes_run_as_the_documented_non_root_users(compose):
    for service, uid in (("api", 10001), ("nginx", 101)):
        for name in project_containers(service):
            # Seen from the host (no user namespace: the same uids); the images carry no `ps`.
            main = psutil.Process(inspect(name)["State"]["Pid"])
            processes = [main, *main.children(recursive=True)]
            uids = {p.uids().real for p in processes} | {p.uids().effective for p in processes}
            assert len(processes) > 1 and uids == {uid}, (name, uids)
    trainer = compose("--profile", "train", "run", "--rm", "--entrypoint", "id", "trainer",
                      timeout=60).stdout  # fmt: skip
    assert "uid=10001" in trainer


def test_root_filesystems_are_read_only_and_tmp_is_writable(compose):
    for name in project_containers():
        assert inspect(name)["HostConfig"]["ReadonlyRootfs"] is True, name
        refused = podman("exec", "--user", "0", name, "touch", "/probe", check=False)
        assert refused.returncode != 0 and "Read-only file system" in refused.stderr, name
        podman("exec", name, "touch", "/tmp/probe")
    script = "touch /tmp/probe /data/probe && rm /data/probe && touch /probe"
    # (The exit status is not checked: through podman 4.3's API, `run --rm` always reports 0.)
    trainer = compose("--profile", "train", "run", "--rm", "--entrypoint", "sh", "trainer",
                      "-c", script, timeout=60, check=False)  # fmt: skip
    assert "cannot touch '/probe': Read-only file system" in trainer.stderr + trainer.stdout
    assert "/tmp/probe" not in trainer.stderr + trainer.stdout


def test_the_api_image_has_no_tensorflow(compose):
    (api, *_) = project_containers("api")
    code = "import importlib.util as u; print([u.find_spec(m) for m in ('tensorflow', 'flask')])"
    found = podman("exec", api, "python", "-c", code).stdout
    assert found.startswith("[None, ModuleSpec(name='flask'"), found


@pytest.mark.timeout(300)
def test_no_secret_is_baked_into_any_layer(compose):
    env = compose("--profile", "train", "run", "--rm", "--entrypoint", "env", "trainer",
                  timeout=60).stdout  # fmt: skip
    assert f"GENIUS_ACCESS_TOKEN={SECRET}" in env  # it reaches the trainer from the environment
    for image in IMAGES:
        assert SECRET not in podman("image", "inspect", image).stdout
        assert SECRET not in podman("history", "--no-trunc", image).stdout
        layers = inspect(image)["GraphDriver"]["Data"]
        folders = [layers["UpperDir"], *filter(None, layers.get("LowerDir", "").split(":"))]
        found = podman_host.grep_files(SECRET, folders)
        assert not found, f"{image} holds the secret in {found}"


@pytest.mark.timeout(180)
def test_down_removes_containers_volume_and_network(compose):
    compose("--profile", "train", "down", "-v", "--timeout", "10", timeout=150)
    assert project_containers(running_only=False) == []
    volumes = podman("volume", "ls", "--format", "{{.Name}}").stdout.split()
    assert f"{podman_host.PROJECT}_ghost-data" not in volumes
    networks = podman("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert not [n for n in networks if n.startswith(podman_host.PROJECT)], networks
