"""Plot-section text from a MediaWiki article (Bulbapedia's episode pages).

Both heading markups MediaWiki has served are understood:
  old:  <h2><span class="mw-headline" id="Plot">Plot</span><span class="mw-editsection">…</h2>
  new:  <div class="mw-heading mw-heading2"><h2 id="Plot">Plot</h2><span class="mw-editsection">…
The section runs from its heading to the next h2 ("Major events", …); only the paragraphs that
are direct children of the article body count, so infoboxes, tables, thumbnails with captions,
spoiler and quality banners (all wrapped in their own elements) stay out.
"""

import re

from lxml import html as lxml_html

PLOT_HEADING_IDS = ("Plot", "Episode_plot", "Synopsis")

# Inline elements whose text is not part of the prose: reference marks "[1]", edit links,
# hidden maintenance spans and MediaWiki's style/script leftovers.
_SKIPPED_INLINE = (
    "self::sup[contains(concat(' ', normalize-space(@class), ' '), ' reference ')]"
    " or self::span[contains(concat(' ', normalize-space(@class), ' '), ' mw-editsection ')]"
    " or self::*[contains(@style, 'display:none')]"
    " or self::style or self::script"
)
_WHITESPACE = re.compile(r"\s+")


def plot_text(page_html: str) -> str:
    """The plot section's paragraphs, one per line; "" when the page has no plot section."""
    root = lxml_html.fromstring(page_html)
    start = _plot_heading_block(root)
    if start is None:
        return ""
    paragraphs = []
    for sibling in start.itersiblings():
        if _is_h2_block(sibling):
            break
        if sibling.tag == "p":
            text = paragraph_text(sibling)
            if text:
                paragraphs.append(text)
    return "\n".join(paragraphs)


def page_title(page_html: str) -> str:
    root = lxml_html.fromstring(page_html)
    heading = root.xpath("//h1[@id='firstHeading']")
    if heading:
        return _WHITESPACE.sub(" ", heading[0].text_content()).strip()
    title = root.findtext(".//title") or ""
    return title.split(" - Bulbapedia")[0].strip()


def paragraph_text(element) -> str:
    """Visible prose of one element: each text node once, skipped inline elements left out."""
    pieces = []
    _collect_text(element, pieces)
    return _WHITESPACE.sub(" ", "".join(pieces)).strip()


def _collect_text(element, pieces: list[str]) -> None:
    # Walks text and tails explicitly: a link's text is reached once through the link itself,
    # instead of once per ancestor as a naive `.//text()` per child element would.
    if element.text:
        pieces.append(element.text)
    for child in element:
        # Comments have a non-string tag; skipped inline elements keep only their tail.
        if isinstance(child.tag, str) and not child.xpath(_SKIPPED_INLINE):
            if child.tag == "br":
                pieces.append(" ")
            else:
                _collect_text(child, pieces)
        if child.tail:
            pieces.append(child.tail)


def _plot_heading_block(root):
    """The element whose following siblings are the plot section, or None."""
    for heading_id in PLOT_HEADING_IDS:
        old = root.xpath(f"//h2[span[contains(@class, 'mw-headline')][@id='{heading_id}']]")
        if old:
            return old[0]
        new = root.xpath(f"//h2[@id='{heading_id}']")
        if new:
            parent = new[0].getparent()
            is_wrapper = parent is not None and "mw-heading" in (parent.get("class") or "")
            return parent if is_wrapper else new[0]
    return None


def _is_h2_block(element) -> bool:
    if not isinstance(element.tag, str):
        return False
    if element.tag == "h2":
        return True
    classes = (element.get("class") or "").split()
    return "mw-heading2" in classes or (element.tag == "div" and element.find("h2") is not None)
