"""The page's markup and script, read as files: labelled controls, phone viewport, text-only output.

The behaviour (streaming, busy retry, errors) is tested in real Chromium in test_page_chromium.py.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
CONTROLS = ("prefix", "model", "length", "temperature", "top_k", "top_p")


class Elements(HTMLParser):
    """Collects every start tag with its attributes, in document order."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.fixture(scope="module")
def tags() -> list[tuple[str, dict]]:
    parser = Elements()
    parser.feed((FRONTEND / "index.html").read_text(encoding="utf-8"))
    return parser.tags


def by_id(tags, element_id):
    return next(attrs | {"tag": tag} for tag, attrs in tags if attrs.get("id") == element_id)


def test_phone_viewport_and_language(tags):
    metas = [attrs for tag, attrs in tags if tag == "meta"]
    assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} in metas
    html = next(attrs for tag, attrs in tags if tag == "html")
    assert html["lang"] == "en"


@pytest.mark.parametrize("control", CONTROLS)
def test_every_control_has_a_label(tags, control):
    assert by_id(tags, control)["tag"] in {"input", "select", "textarea"}
    labels = [attrs for tag, attrs in tags if tag == "label" and attrs.get("for") == control]
    assert len(labels) == 1


def test_buttons_are_real_buttons(tags):
    for button_id in ("generate", "stop", "copy"):
        assert by_id(tags, button_id)["tag"] == "button"


def test_status_and_errors_are_announced(tags):
    assert by_id(tags, "status")["role"] == "status"
    assert by_id(tags, "error")["role"] == "alert"
    assert by_id(tags, "output")["aria-live"] == "polite"


def test_generated_text_is_never_parsed_as_html():
    script = (FRONTEND / "app.js").read_text(encoding="utf-8")
    sinks = (
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser|createContextualFragment"
    )
    assert re.findall(sinks, script) == []
    assert "createTextNode" in script


def test_css_adapts_to_narrow_screens():
    css = (FRONTEND / "style.css").read_text(encoding="utf-8")
    assert re.search(r"@media \(max-width: [0-9.]+rem\)", css)
    assert ":focus-visible" in css
