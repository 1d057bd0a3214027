"""Episode pages for the crawl tests, written for these tests in Bulbapedia's real markup.

Both heading markups appear (old `h2 > span.mw-headline`, new `div.mw-heading > h2`), together
with everything the plot extraction must leave out: infobox, spoiler and quality banners,
thumbnails with captions, reference marks, edit links, an intro paragraph before the plot.
"""

from tests.crawler.local_site import LocalSite, Reply

ROBOTS_TXT = "User-agent: *\nDisallow: /wiki/Special:\nDisallow: /w/\n"
EP_LIST = "/wiki/List_of_original_series_episodes"
AG_LIST = "/wiki/List_of_Advanced_Generation_series_episodes"

EDIT = (
    '<span class="mw-editsection"><span class="mw-editsection-bracket">[</span>'
    '<a href="/w/index.php?title=X&amp;action=edit&amp;section=1" title="Edit section">edit</a>'
    '<span class="mw-editsection-bracket">]</span></span>'
)


def old_h2(anchor: str, text: str) -> str:
    return f'<h2><span class="mw-headline" id="{anchor}">{text}</span>{EDIT}</h2>'


def new_h2(anchor: str, text: str) -> str:
    return f'<div class="mw-heading mw-heading2"><h2 id="{anchor}">{text}</h2>{EDIT}</div>'


def article(title: str, content: str, *, charset: str = "utf-8") -> str:
    return f"""<!DOCTYPE html>
<html class="client-nojs" lang="en" dir="ltr"><head>
<meta charset="{charset}">
<title>{title} - Bulbapedia, the community-driven Pok&eacute;mon encyclopedia</title>
</head><body class="mediawiki ltr skin-monobook">
<div id="globalWrapper"><div id="column-content"><div id="content" class="mw-body" role="main">
<h1 id="firstHeading" class="firstHeading mw-first-heading">
<span class="mw-page-title-main">{title}</span></h1>
<div id="bodyContent" class="vector-body"><div id="siteSub">From Bulbapedia.</div>
<div id="mw-content-text" class="mw-body-content">
<div class="mw-content-ltr mw-parser-output" lang="en" dir="ltr">
{content}
</div></div></div></div></div>
<div id="column-one"><div class="portlet" id="p-navigation"><ul>
<li><a href="/wiki/Main_Page">Main Page</a></li><li><a href="/wiki/EP999">Featured episode</a></li>
</ul></div></div></div></body></html>"""


def infobox(code: str, title: str) -> str:
    return (
        '<table class="roundy" style="float:right; width:300px"><tr><td>'
        f"<big><b>{code}</b></big><br>{title}"
        "<p>Infobox text: first broadcast in spring, animation by the test studio.</p>"
        "</td></tr></table>"
    )


SPOILER = (
    '<table class="spoilerbanner" style="margin:auto"><tr><td><b>Spoiler warning:</b> '
    "this article may contain major plot or ending details.</td></tr></table>"
)
QUALITY = (
    '<table class="roundy quality-banner"><tr><td><p>This section is incomplete. '
    "Please feel free to edit it.</p></td></tr></table>"
)
THUMB = (
    '<div class="thumb tright"><div class="thumbinner" style="width:202px">'
    '<a href="/wiki/File:Lake.png" class="image"><img alt="" src="/images/lake.png"></a>'
    '<div class="thumbcaption">A caption under a picture of the lake</div></div></div>'
)
MAJOR_EVENTS = old_h2("Major_events", "Major events") + (
    "<ul><li>Mira obtains a Badge for the first time.</li></ul>"
)

# EP001: old markup, heading id "Plot"; nested links, a reference mark, thumbnail and banner.
EP001_PLOT_HTML = (
    old_h2("Plot", "Plot")
    + THUMB
    + '<p>At dawn, <a href="/wiki/Mira" title="Mira"><b>Mira</b></a> sets out from '
    '<a href="/wiki/Fernvale_Town" title="Fernvale Town"><span class="explain">Fernvale '
    '<i>Town</i></span></a> with her <a href="/wiki/Sproutling" title="Sproutling">'
    '<span class="sprite">Sproutling</span></a>, which refuses to walk and insists on riding in '
    'her hood.<sup id="cite_ref-1" class="reference"><a href="#cite_note-1">[1]</a></sup> '
    "The road to the lake is longer than the map promised.</p>"
    + QUALITY
    + "<p>By the water, a storm gathers. Mira shelters under a pier, where an old fisherman "
    "explains that the lake's guardian only surfaces for travellers who share their lunch. "
    "She shares hers, Sproutling sulks, and the guardian rises at last.</p>"
)
EP001_PLOT_TEXT = (
    "At dawn, Mira sets out from Fernvale Town with her Sproutling, which refuses to walk and "
    "insists on riding in her hood. The road to the lake is longer than the map promised.\n"
    "By the water, a storm gathers. Mira shelters under a pier, where an old fisherman explains "
    "that the lake's guardian only surfaces for travellers who share their lunch. She shares "
    "hers, Sproutling sulks, and the guardian rises at last."
)


def plot_paragraphs(code: str) -> str:
    """A plain two-paragraph plot, different for every code."""
    return (
        f"<p>In {code}, the travellers reach a valley where the bridges are made of rope and "
        f"every crossing costs a riddle. Mira answers the first riddle, Oren the second.</p>"
        f"<p>At the last bridge the keeper of {code} asks for a song instead, and the whole "
        "group sings badly enough that the keeper laughs and lets them through before dusk.</p>"
    )


def plot_text_of(code: str) -> str:
    return (
        f"In {code}, the travellers reach a valley where the bridges are made of rope and every "
        "crossing costs a riddle. Mira answers the first riddle, Oren the second.\n"
        f"At the last bridge the keeper of {code} asks for a song instead, and the whole group "
        "sings badly enough that the keeper laughs and lets them through before dusk."
    )


def episode(code: str, title: str, plot_html: str, *, charset: str = "utf-8") -> str:
    intro = f"<p><b>{title}</b> is an episode of the test series. This intro is not plot.</p>"
    return article(
        f"{title} ({code})",
        infobox(code, title) + SPOILER + intro + plot_html + MAJOR_EVENTS,
        charset=charset,
    )


# windows-1252: curly quotes, an e-acute and an em dash are single bytes there.
EP004_PLOT_TEXT = (
    "“Wait for me!” Mira calls, as the Pokémon café’s doors close — and the cook, "
    "amused, opens them again for one last bowl of stew before the night train leaves. "
    "Oren pays with coins from three different regions, and nobody minds."
)

EPISODES = {
    "EP001": ("Sprouts at Dawn", EP001_PLOT_HTML, EP001_PLOT_TEXT),
    "EP002": ("Rope Bridges", new_h2("Plot", "Plot") + plot_paragraphs("EP002"), None),
    "EP003": (
        "Retry Valley",
        new_h2("Episode_plot", "Episode plot") + plot_paragraphs("EP003"),
        None,
    ),
    "EP004": (
        "Night Train",
        old_h2("Synopsis", "Synopsis") + f"<p>{EP004_PLOT_TEXT}</p>",
        EP004_PLOT_TEXT,
    ),
    "EP005": ("No Plot Yet", "", None),
    "EP006": ("Short One", new_h2("Plot", "Plot") + "<p>Too short.</p>", None),
    "EP007": ("Bell Tower", old_h2("Plot", "Plot") + plot_paragraphs("EP007"), None),
    "EP008": ("Fog Harbor", new_h2("Plot", "Plot") + plot_paragraphs("EP008"), None),
}
WRITTEN = ["EP001", "EP002", "EP003", "EP004", "EP007", "EP008"]


def expected_text(code: str) -> str:
    return EPISODES[code][2] or plot_text_of(code)


def page_path(code: str) -> str:
    return f"/wiki/{EPISODES[code][0].replace(' ', '_')}_({code})"


def list_page(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f'<tr><td>{code}</td><td><a href="{href}" title="{code}">{code}</a></td></tr>'
        for code, href in rows
    )
    return article(
        "List of episodes",
        f'<table class="roundy"><tr><th>#</th><th>Title</th></tr>{cells}</table>',
    )


def build_wiki_site(site: LocalSite) -> None:
    site.add_page("/robots.txt", ROBOTS_TXT, "text/plain")
    rows = [(code, page_path(code)) for code in EPISODES]
    rows.insert(1, ("EP001", page_path("EP001")))  # a second link to one episode
    rows.append(("EP009", "/wiki/Special:Hidden_(EP009)"))  # disallowed by robots.txt
    site.add_page(EP_LIST, list_page(rows))
    site.add_page(AG_LIST, list_page([("AG001", "/wiki/Harbor_Lights_(AG001)")]))
    for code, (title, plot_html, _) in EPISODES.items():
        if code == "EP004":
            page = episode(code, title, plot_html, charset="windows-1252")
            site.add_page(page_path(code), page.encode("cp1252"), "text/html; charset=windows-1252")
        else:
            site.add_page(page_path(code), episode(code, title, plot_html))
    site.add_page(
        "/wiki/Harbor_Lights_(AG001)",
        episode("AG001", "Harbor Lights", new_h2("Plot", "Plot") + plot_paragraphs("AG001")),
    )
    site.add_page(
        "/wiki/Special:Hidden_(EP009)", episode("EP009", "Hidden", plot_paragraphs("EP009"))
    )
    site.fail_first(
        page_path("EP003"), Reply(503, b"busy", {"Retry-After": "1", "Content-Type": "text/plain"})
    )
