"""Lyrics text from a Genius song page, in both markups Genius has served.

current: one or several <div data-lyrics-container="true">; inside them, blocks marked
         data-exclude-from-selection (the "N Contributors … Lyrics" header, ad slots) are not
         lyrics; the header and footer outside the containers are never read.
legacy:  <div class="lyrics"><p>…</p></div>.
<br> becomes a newline; section headers such as [Chorus] are kept (prepare cleans them).

Stanzas stay apart: Genius splits the lyrics over several containers, also between stanzas,
so a container's closing line break is kept where the next one starts, and a section header
always starts a stanza (on real pages a [Chorus] at a container boundary followed the verse
directly).
"""

import re

from lxml import html as lxml_html

_BLOCK_TAGS = {"p", "div"}
_TRAILING_SPACE = re.compile(r"[ \t\r\f\v]+\n")
_BLANK_RUNS = re.compile(r"\n{3,}")
_SECTION_HEADER = re.compile(r"^\[[^\]]+\]$")


def lyrics_text(page_html: str) -> str:
    """The song's lyrics; "" when the page has none in either markup."""
    root = lxml_html.fromstring(page_html)
    containers = root.xpath("//div[@data-lyrics-container='true']")
    if not containers:
        containers = root.xpath(
            "//div[contains(concat(' ', normalize-space(@class), ' '), ' lyrics ')]"
        )
    parts = []
    for container in containers:
        pieces: list[str] = []
        _collect(container, pieces)
        # Only the start is trimmed: a trailing <br> ends a stanza at the boundary.
        parts.append("".join(pieces).lstrip())
    return _tidy("\n".join(part for part in parts if part.strip()))


def song_title(page_html: str) -> str:
    root = lxml_html.fromstring(page_html)
    og = root.xpath("//meta[@property='og:title']/@content")
    if og:
        return og[0].strip()
    return (root.findtext(".//title") or "").split(" Lyrics")[0].strip()


def _collect(element, pieces: list[str]) -> None:
    if element.text:
        pieces.append(element.text)
    for child in element:
        if _is_lyrics(child):
            if child.tag == "br":
                pieces.append("\n")
            else:
                block = "\n" if child.tag in _BLOCK_TAGS else ""
                pieces.append(block)
                _collect(child, pieces)
                pieces.append(block)
        if child.tail:  # text after an excluded block is still lyrics
            pieces.append(child.tail)


def _is_lyrics(element) -> bool:
    return (
        isinstance(element.tag, str)  # not a comment
        and element.tag not in ("script", "style")
        and element.get("data-exclude-from-selection") != "true"
    )


def _tidy(text: str) -> str:
    text = text.replace("\u00a0", " ")
    text = _TRAILING_SPACE.sub("\n", text)
    lines = []
    for line in (line.strip() for line in text.split("\n")):
        if _SECTION_HEADER.match(line) and lines and lines[-1]:
            lines.append("")
        lines.append(line)
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()
