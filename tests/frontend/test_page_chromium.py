"""The page in real headless Chromium (Debian's, driven by Playwright) against the real stack:
nginx serving frontend/ and passing the API to uWSGI, which serves the tiny model.

Screenshots go to tests/artifacts/ (git-ignored).
"""

import json
import os
import signal
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect, sync_playwright

from tests.fixtures.stack import worker_pids

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = "/usr/bin/chromium"
# Never a browser download: Debian's Chromium, with nothing that phones home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Playwright's own waits (page.set_default_timeout) and its expect() assertions (5 s unless told):
# generous, for a shared 2-core machine.
WAIT_MS = 20_000
BUSY = json.dumps(
    {
        "error": {
            "message": "the server is busy (64 sequences in flight); retry shortly",
            "type": "overloaded",
            "param": None,
        }
    }
)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `make install` (Debian package chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_page(page: Page, stack) -> None:
    page.goto(stack.url + "/")
    expect(page.locator("#model option")).not_to_have_count(0, timeout=WAIT_MS)


def wait_until_done(page: Page) -> None:
    expect(page.locator("#usage")).to_contain_text("tokens generated", timeout=WAIT_MS)
    expect(page.locator("#generate")).to_be_enabled()


def continuation_chunks(page: Page) -> int:
    """How many separate pieces of text the continuation arrived in."""
    return page.evaluate("document.getElementById('output-continuation').childNodes.length")


@pytest.mark.timeout(180)
def test_generate_streams_the_continuation_after_the_bold_prefix(page, serving_stack):
    open_page(page, serving_stack)
    models = requests.get(serving_stack.url + "/models", timeout=10).json()
    names = page.locator("#model option").all_text_contents()
    assert names == [m["name"] for m in models["models"]]
    # The Length field's range is the selected model's longest length, not a static 1,024.
    longest = models["models"][0]["max_length"]
    expect(page.locator("#length")).to_have_attribute("max", str(longest))
    page.fill("#prefix", "Ash and Pikachu were")
    page.fill("#length", "40")
    page.fill("#top_k", "20")
    page.click("#generate")
    wait_until_done(page)
    expect(page.locator("#output-prefix")).to_have_text("Ash and Pikachu were")
    assert page.evaluate("getComputedStyle(document.getElementById('output-prefix')).fontWeight")
    assert page.locator("#output-prefix").evaluate("e => e.tagName") == "STRONG"
    continuation = page.locator("#output-continuation").text_content()
    assert continuation.strip()
    # Streamed: the text came as several server-sent events, each appended as it arrived.
    assert continuation_chunks(page) > 1
    expect(page.locator("#status")).to_have_text("Done.")
    screenshot(page, "page-streamed")


@pytest.mark.timeout(180)
def test_copy_puts_prefix_and_continuation_on_the_clipboard(page, serving_stack):
    open_page(page, serving_stack)
    page.fill("#prefix", "Misty said")
    page.fill("#length", "10")
    page.click("#generate")
    wait_until_done(page)
    page.click("#copy")
    expect(page.locator("#status")).to_have_text("Copied to the clipboard.")
    shown = page.locator("#output").text_content()
    assert page.evaluate("navigator.clipboard.readText()") == shown
    assert shown.startswith("Misty said")


@pytest.mark.timeout(180)
def test_markup_in_the_prefix_is_shown_as_text(page, serving_stack):
    open_page(page, serving_stack)
    prefix = '<img src=x onerror="window.injected = 1"><b>Brock</b>'
    page.fill("#prefix", prefix)
    page.fill("#length", "5")
    page.click("#generate")
    wait_until_done(page)
    expect(page.locator("#output-prefix")).to_have_text(prefix)
    assert page.locator("#output img, #output b").count() == 0
    assert page.evaluate("window.injected") is None


@pytest.mark.timeout(180)
def test_validation_errors_are_shown_in_words_at_the_control(page, serving_stack):
    open_page(page, serving_stack)
    page.fill("#prefix", "Team Rocket")
    page.fill("#length", "0")
    page.click("#generate")
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("length")
    expect(page.locator("#length")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#length")).to_be_focused()
    expect(page.locator("#generate")).to_be_enabled()
    screenshot(page, "page-invalid")
    # Fixing the value and generating again clears the error.
    page.fill("#length", "5")
    page.click("#generate")
    wait_until_done(page)
    expect(error).to_be_hidden()
    expect(page.locator("#length")).not_to_have_attribute("aria-invalid", "true")


@pytest.mark.timeout(180)
def test_keyboard_only_generate_and_labelled_controls(page, serving_stack):
    open_page(page, serving_stack)
    for control in ("prefix", "model", "length", "temperature", "top_k", "top_p"):
        expect(page.get_by_label(control.replace("_", "-"), exact=False).first).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.locator("#prefix")).to_be_focused()
    page.keyboard.type("Gary")
    page.keyboard.press("Control+Enter")
    wait_until_done(page)
    expect(page.locator("#output-prefix")).to_have_text("Gary")
    assert page.locator("#output-continuation").text_content()


@pytest.mark.timeout(180)
def test_phone_width_has_no_horizontal_scroll(browser, serving_stack):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto(serving_stack.url + "/")
    # A long unbroken word must wrap, not widen the page (the tiny model's context is 128 tokens).
    page.fill("#prefix", "Pallet Town " + "Z" * 40)
    page.fill("#length", "30")
    page.click("#generate")
    wait_until_done(page)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    screenshot(page, "page-phone")
    context.close()


@pytest.mark.timeout(180)
def test_busy_server_is_announced_and_retried(page, serving_stack):
    # The scheduler frees a place within milliseconds, too soon to meet a full server on purpose:
    # the page's first request gets the API's overload answer (its shape, as api/errors.py sends
    # it), its retry goes to the real stack.
    open_page(page, serving_stack)
    page.fill("#prefix", "Professor Oak")
    page.fill("#length", "10")
    refused = []

    def first_refused(route):
        if refused:
            return route.fallback()
        refused.append(route.request.url)
        return route.fulfill(
            status=503, headers={"Retry-After": "3"}, content_type="application/json", body=BUSY
        )

    page.route("**/generate", first_refused)
    page.click("#generate")
    expect(page.locator("#status")).to_contain_text(
        "The server is busy. Retrying in 3 s", timeout=WAIT_MS
    )
    expect(page.locator("#stop")).to_be_enabled()
    screenshot(page, "page-busy")
    # After Retry-After (3 s) the page asks again by itself and streams the text.
    wait_until_done(page)
    assert len(refused) == 1 and page.locator("#output-continuation").text_content()


@pytest.mark.timeout(180)
def test_stop_aborts_a_waiting_generation(page, start_stack):
    stack = start_stack()
    open_page(page, stack)
    page.fill("#prefix", "Jessie and James")
    (worker,) = worker_pids(stack)
    os.kill(worker, signal.SIGSTOP)  # the request waits: nothing answers it
    try:
        page.click("#generate")
        expect(page.locator("#status")).to_have_text("Generating…")
        page.keyboard.press("Escape")
        expect(page.locator("#status")).to_have_text("Stopped.")
    finally:
        os.kill(worker, signal.SIGCONT)
    expect(page.locator("#generate")).to_be_enabled()
    expect(page.locator("#stop")).to_be_disabled()


@pytest.mark.timeout(180)
def test_nginx_rate_limit_429_is_announced_as_busy(page, start_stack):
    # One generation per minute per client plus a burst of one (nginx's smallest): two requests
    # from this address use it up, and the page's is refused by nginx itself.
    stack = start_stack(nginx_env={"GHOST_NGINX_RATE": "1r/m", "GHOST_NGINX_BURST": "1"})
    open_page(page, stack)
    page.fill("#prefix", "Brock")
    page.fill("#length", "5")
    for _ in range(2):
        allowed = requests.get(
            stack.url + "/generate", params={"prefix": "x", "length": 1}, timeout=30
        )
        assert allowed.status_code == 200
    with page.expect_response(lambda r: r.url.endswith("/generate")) as refused:
        page.click("#generate")
    assert refused.value.status == 429
    expect(page.locator("#status")).to_contain_text("The server is busy. Retrying in")
    page.click("#stop")
    expect(page.locator("#status")).to_have_text("Stopped.")
    expect(page.locator("#generate")).to_be_enabled()


@pytest.mark.timeout(180)
def test_a_stream_cut_by_a_killed_worker_is_shown_as_an_error(page, start_stack):
    # Each step slowed to 20 ms: the worker dies once the first text is on the page, long
    # before 120 tokens (2.4 s) are written.
    stack = start_stack(app_env={"UWSGI_IMPORT": "tests.fixtures.slow_engine"})
    open_page(page, stack)
    page.fill("#prefix", "Ash")
    page.fill("#length", "120")
    (worker,) = worker_pids(stack)
    page.click("#generate")
    # A locator assertion, not wait_for_function: the page's CSP forbids evaluating strings.
    expect(page.locator("#output-continuation")).not_to_be_empty()
    os.kill(worker, signal.SIGKILL)
    expect(page.locator("#generate")).to_be_enabled()
    expect(page.locator("#error")).to_contain_text("closed before the text was finished")
    expect(page.locator("#usage")).to_have_text("")
    screenshot(page, "page-cut")


@pytest.mark.timeout(180)
def test_a_failed_request_clears_the_output_and_disables_copy(page, serving_stack):
    open_page(page, serving_stack)
    page.fill("#prefix", "Misty")
    page.fill("#length", "5")
    page.click("#generate")
    wait_until_done(page)
    expect(page.locator("#copy")).to_be_enabled()
    # 120 new tokens after a prefix of ~60 words do not fit the tiny model's 128-token context.
    page.fill("#prefix", "Misty and Brock " * 20)
    page.fill("#length", "120")
    page.click("#generate")
    expect(page.locator("#error")).to_contain_text("context")
    expect(page.locator("#output-prefix")).to_have_text("")
    expect(page.locator("#output-continuation")).to_have_text("")
    expect(page.locator("#copy")).to_be_disabled()


@pytest.mark.timeout(180)
def test_the_length_field_follows_the_selected_models_limit(page, serving_stack):
    # Two models with different contexts: the served one, and a copy said to hold 64 tokens.
    served = requests.get(serving_stack.url + "/models", timeout=10).json()
    [model] = served["models"]
    small = {**model, "name": "small", "n_ctx": 64, "max_length": 63}
    listing = json.dumps({"models": [model, small], "default": model["name"]})
    page.route(
        "**/models",
        lambda route: route.fulfill(status=200, content_type="application/json", body=listing),
    )
    open_page(page, serving_stack)
    length = page.locator("#length")
    expect(length).to_have_attribute("max", str(model["max_length"]))
    length.fill("100")
    page.select_option("#model", "small")
    expect(length).to_have_attribute("max", "63")
    expect(length).to_have_value("63")
    page.select_option("#model", model["name"])
    expect(length).to_have_attribute("max", str(model["max_length"]))
