"""Pure extraction and parsing functions, on the test sites' pages (no crawl)."""

from datetime import UTC, datetime

import pytest

from crawler.lyrics import lyrics_text, song_title
from crawler.mediawiki import page_title, plot_text
from crawler.middlewares import retry_after_seconds
from crawler.spiders.bulbapedia import episode_code, parse_series
from crawler.spiders.genius import parse_artists, pick_artist
from tests.crawler import genius_pages, wiki_pages


@pytest.mark.parametrize("code", ["EP001", "EP002", "EP003", "EP004", "EP007", "EP008"])
def test_plot_section_in_both_heading_markups(code):
    title, plot_html, _ = wiki_pages.EPISODES[code]
    page = wiki_pages.episode(code, title, plot_html)
    assert plot_text(page) == wiki_pages.expected_text(code)
    assert page_title(page) == f"{title} ({code})"


def test_plot_leaves_out_everything_but_paragraph_prose():
    page = wiki_pages.episode("EP001", "Sprouts at Dawn", wiki_pages.EP001_PLOT_HTML)
    text = plot_text(page)
    for outside in ("Infobox", "Spoiler", "caption", "[1]", "edit", "incomplete", "intro", "Badge"):
        assert outside not in text
    # Links nested two and three elements deep: their text appears exactly once.
    assert text.count("Fernvale Town") == 1
    assert text.count("Sproutling") == 2  # once per mention in the prose


def test_page_without_plot_section_gives_empty_text():
    assert plot_text(wiki_pages.episode("EP005", "No Plot Yet", "")) == ""


def test_first_matching_heading_wins_and_section_ends_at_next_h2():
    page = wiki_pages.article(
        "X",
        wiki_pages.new_h2("Synopsis", "Synopsis")
        + "<p>Synopsis text.</p>"
        + wiki_pages.new_h2("Trivia", "Trivia")
        + "<p>Trivia text.</p>",
    )
    assert plot_text(page) == "Synopsis text."


@pytest.mark.parametrize(
    ("song_id", "expected"),
    [(1001, genius_pages.SONG_1001_TEXT), (1002, genius_pages.SONG_1002_TEXT), (1003, "")],
)
def test_lyrics_in_current_and_legacy_markup(song_id, expected):
    page = genius_pages.song_page(
        song_id,
        genius_pages.song_title(song_id),
        {
            1001: genius_pages.SONG_1001_HTML,
            1002: genius_pages.SONG_1002_HTML,
            1003: genius_pages.SONG_1003_HTML,
        }[song_id],
    )
    assert lyrics_text(page) == expected
    assert song_title(page) == genius_pages.song_title(song_id)


def test_lyrics_leave_out_header_footer_and_excluded_blocks():
    page = genius_pages.song_page(1001, "Paper Lanterns", genius_pages.SONG_1001_HTML)
    text = lyrics_text(page)
    for outside in ("Contributors", "Translations", "Advertisement", "might also like", "Embed"):
        assert outside not in text
    assert "[Chorus]" in text


def containers(*bodies: str) -> str:
    """A song page whose lyrics are split over containers, with an ad between each two."""
    ad = '<div class="RightSidebar__Container"><div class="SidebarAd">Advertisement</div></div>'
    divs = [f'<div data-lyrics-container="true">{body}</div>' for body in bodies]
    return genius_pages.song_page(1001, "Split", ad.join(divs))


@pytest.mark.parametrize(
    ("bodies", "expected"),
    [
        # A section header after a container boundary starts a new stanza.
        (["[Verse]<br>one<br>two", "[Chorus]<br>three"], "[Verse]\none\ntwo\n\n[Chorus]\nthree"),
        # A container that ends with a line break ends a stanza, headers or not.
        (["one<br>two<br>", "three<br>four"], "one\ntwo\n\nthree\nfour"),
        # A container that ends mid-stanza continues it.
        (["[Chorus]<br>one", "two<br>three"], "[Chorus]\none\ntwo\nthree"),
        # A header right after an excluded block inside a container, too.
        (
            ['one<br><div data-exclude-from-selection="true">ad</div>[Bridge]<br>two'],
            "one\n\n[Bridge]\ntwo",
        ),
    ],
)
def test_stanza_breaks_survive_container_boundaries(bodies, expected):
    assert lyrics_text(containers(*bodies)) == expected


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://x/wiki/EP001", "EP001"),
        ("http://x/wiki/Pok%C3%A9mon_-_I_Choose_You!_(EP001)", "EP001"),
        ("http://x/wiki/Harbor_Lights_(AG123)", "AG123"),
        ("http://x/wiki/Ash_Ketchum", None),
        ("http://x/wiki/EP001_(disambiguation)", None),
        ("http://x/wiki/List_of_original_series_episodes", None),
    ],
)
def test_episode_code_from_link(url, code):
    assert episode_code(url) == code


KNOWN = {"EP": "/a", "AG": "/b"}


@pytest.mark.parametrize(("value", "expected"), [(None, ["EP", "AG"]), ("ag, ep", ["AG", "EP"])])
def test_series_selection(value, expected):
    assert parse_series(value, known=KNOWN) == expected


@pytest.mark.parametrize("value", ["XY", "EP,ZZ", ",", " "])
def test_unknown_series_is_a_usage_error(value):
    with pytest.raises(ValueError, match="series"):
        parse_series(value, known=KNOWN)


@pytest.mark.parametrize("value", [None, "", ";", [], ["  "]])
def test_no_artist_is_a_usage_error(value):
    with pytest.raises(ValueError, match="artist"):
        parse_artists(value)


def test_artists_from_one_argument_or_several():
    assert parse_artists("A; B") == ["A", "B"]
    assert parse_artists(["Tyler, The Creator"]) == ["Tyler, The Creator"]


def test_pick_artist_prefers_exact_name_over_top_hit():
    hits = [
        {"type": "song", "result": {"primary_artist": {"id": 1, "name": "Band Tribute"}}},
        {"type": "song", "result": {"primary_artist": {"id": 2, "name": "Band"}}},
    ]
    assert pick_artist(hits, "band")["id"] == 2
    assert pick_artist(hits, "someone else")["id"] == 1
    assert pick_artist([], "band") is None


NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("7", 7.0),
        (b"120", 120.0),
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),  # in the past: retry now
        ("soon", None),
        ("-3", None),
    ],
)
def test_retry_after_header(header, seconds):
    assert retry_after_seconds(header, now=NOW) == seconds
