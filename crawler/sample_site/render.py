"""Renders the sample site's pages from episodes.txt, in the markup Bulbapedia serves.

episodes.txt holds one block per episode:
    = EP001 | Title | Plot
    paragraph … [[Target|shown text]] or [[Target]] become wiki links …
    (blank line between paragraphs)
    * a major event
The third field is the plot heading's id (Plot, Episode_plot or Synopsis). Odd episodes use the
older heading markup (h2 > span.mw-headline), even ones the newer (div.mw-heading > h2), so the
demo crawl exercises both.
"""

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

from crawler.settings import BULBAPEDIA_LIST_PAGES

EPISODES_FILE = Path(__file__).with_name("episodes.txt")
SERIES_NAMES = {"EP": "original series", "AG": "Advanced Generation series"}
# The crawler's list page for every series is served; only EP and AG have sample episodes.
LIST_PATHS = BULBAPEDIA_LIST_PAGES
ROBOTS_TXT = "User-agent: *\nDisallow: /w/\nDisallow: /wiki/Special:\n"
WIKI_LINK = re.compile(r"\[\[([^\]|]+)(?:\|([^\]]+))?\]\]")


@dataclass
class Episode:
    code: str
    title: str
    heading_id: str
    paragraphs: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return "/wiki/" + quote(f"{self.title} ({self.code})".replace(" ", "_"), safe="()!,'_:")


def load_episodes(path: Path = EPISODES_FILE) -> list[Episode]:
    episodes: list[Episode] = []
    paragraph: list[str] = []

    def end_paragraph():
        if paragraph:
            episodes[-1].paragraphs.append(" ".join(paragraph))
            paragraph.clear()

    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if line.startswith("= "):
            if episodes:
                end_paragraph()
            code, title, heading_id = (part.strip() for part in line[2:].split("|"))
            episodes.append(Episode(code, title, heading_id))
        elif line.startswith("* "):
            end_paragraph()
            episodes[-1].events.append(line[2:])
        elif line:
            paragraph.append(line)
        else:
            end_paragraph()
    end_paragraph()
    return episodes


def wiki_markup(text: str) -> str:
    """Escapes prose and turns [[Target|text]] into MediaWiki's <a> elements."""
    out, last = [], 0
    for match in WIKI_LINK.finditer(text):
        out.append(html.escape(text[last : match.start()], quote=False))
        target, shown = match.group(1), match.group(2) or match.group(1)
        href = "/wiki/" + quote(target.replace(" ", "_"), safe="()_:'")
        out.append(f'<a href="{href}" title="{html.escape(target)}">{html.escape(shown)}</a>')
        last = match.end()
    out.append(html.escape(text[last:], quote=False))
    return "".join(out)


def heading(anchor: str, text: str, *, old_markup: bool, section: int) -> str:
    edit = (
        '<span class="mw-editsection"><span class="mw-editsection-bracket">[</span>'
        f'<a href="/w/index.php?action=edit&amp;section={section}" title="Edit section: {text}">'
        'edit</a><span class="mw-editsection-bracket">]</span></span>'
    )
    if old_markup:
        return f'<h2><span class="mw-headline" id="{anchor}">{text}</span>{edit}</h2>'
    return f'<div class="mw-heading mw-heading2"><h2 id="{anchor}">{text}</h2>{edit}</div>'


def page(title: str, content: str) -> str:
    return f"""<!DOCTYPE html>
<html class="client-nojs" lang="en" dir="ltr"><head><meta charset="UTF-8">
<title>{html.escape(title)} - Sample Bulbapedia (offline demo)</title></head>
<body class="mediawiki ltr sitedir-ltr skin-monobook">
<div id="globalWrapper"><div id="column-content"><div id="content" class="mw-body" role="main">
<h1 id="firstHeading" class="firstHeading mw-first-heading">
<span class="mw-page-title-main">{html.escape(title)}</span></h1>
<div id="bodyContent" class="vector-body"><div id="siteSub">From the sample site.</div>
<div id="mw-content-text" class="mw-body-content">
<div class="mw-content-ltr mw-parser-output" lang="en" dir="ltr">
{content}
</div></div></div></div></div>
<div id="column-one"><div class="portlet" id="p-navigation"><ul>
<li><a href="/wiki/Main_Page">Main Page</a></li>
{"".join(f'<li><a href="{p}">{n.capitalize()}</a></li>' for n, p in _list_links())}
</ul></div></div></div></body></html>"""


def _list_links():
    return [(f"{SERIES_NAMES[s]} episodes", LIST_PATHS[s]) for s in SERIES_NAMES]


def episode_page(episode: Episode, number: int) -> str:
    old = number % 2 == 1
    infobox = (
        '<table class="roundy" style="float:right; width:280px; background:#F5F5DC">'
        f"<tr><td><big><b>{episode.code}</b></big></td><td>{html.escape(episode.title)}</td></tr>"
        f"<tr><td>Sample air date</td><td>Day {number * 7}</td></tr></table>"
    )
    spoiler = (
        '<table class="spoilerbanner"><tr><td><b>Spoiler warning:</b> this article may contain '
        "major plot or ending details.</td></tr></table>"
    )
    intro = (
        f"<p><b>{html.escape(episode.title)}</b> ({episode.code}) is an episode written for "
        "Ghostwriter's offline demo.</p>"
    )
    plot_name = episode.heading_id.replace("_", " ")
    body = [
        infobox,
        spoiler,
        intro,
        heading(episode.heading_id, plot_name, old_markup=old, section=1),
    ]
    body += [f"<p>{wiki_markup(paragraph)}</p>" for paragraph in episode.paragraphs]
    body.append(heading("Major_events", "Major events", old_markup=old, section=2))
    events = "".join(f"<li>{wiki_markup(event)}</li>" for event in episode.events)
    body.append(f"<ul>{events}</ul>")
    return page(f"{episode.title} ({episode.code})", "\n".join(body))


def list_page(series: str, episodes: list[Episode]) -> str:
    rows = "".join(
        f'<tr><td>{e.code}</td><td><a href="{e.path}" title="{html.escape(e.title)} '
        f'({e.code})">{html.escape(e.title)}</a></td></tr>'
        for e in episodes
        if e.code.startswith(series)
    )
    table = f'<table class="roundy sortable"><tr><th>#</th><th>Title</th></tr>{rows}</table>'
    title = unquote(LIST_PATHS[series]).removeprefix("/wiki/").replace("_", " ")
    return page(title, table)


def site_pages(episodes: list[Episode] | None = None) -> dict[str, tuple[str, bytes]]:
    """Every page of the site: URL path → (content type, body)."""
    episodes = load_episodes() if episodes is None else episodes
    html_type = "text/html; charset=UTF-8"
    pages = {"/robots.txt": ("text/plain; charset=UTF-8", ROBOTS_TXT.encode())}
    for series, path in LIST_PATHS.items():
        pages[path] = (html_type, list_page(series, episodes).encode())
    for number, episode in enumerate(episodes, start=1):
        pages[episode.path] = (html_type, episode_page(episode, number).encode())
    return pages
