"""A Genius-shaped API and song pages for the crawl tests, written for these tests.

The API answers like api.genius.com (`{"meta": {"status"}, "response": {...}}`): search hits
with a primary artist, and an artist's songs paged by `per_page`/`page` with `next_page`.
Song pages use the current markup (data-lyrics-container, with excluded header/ad blocks) and
the legacy `div.lyrics`.
"""

import json

from tests.crawler.local_site import LocalSite, Reply

TOKEN = "test-token-123"
ARTIST_ID = 77
ARTIST = "Test Artist"
SONG_IDS = list(range(1001, 1011))  # ten songs, most popular first

SONG_1001_HTML = (
    '<div data-lyrics-container="true" class="Lyrics__Container-sc-78fb6627-1 hiRbsH">'
    '<div data-exclude-from-selection="true" class="LyricsHeader__Container-sc-5e4b7146-1">'
    '<div class="ContributorsCreditSong">12 Contributors</div><div>Translations</div>'
    "<h2>Paper Lanterns Lyrics</h2></div>[Verse 1]<br>We folded paper lanterns<br>"
    '<a href="/1234/Test-artist-paper-lanterns/We-lit-them-by-the-pier" '
    'class="ReferentFragment-desktop__ClickTarget">'
    '<span class="ReferentFragment-desktop__Highlight">and we <i>lit</i> them by the pier'
    "</span></a><br>The tide took every wish we had<br>and kept them for a year<br><br>"
    "[Chorus]<br>Float, float, over the water</div>"
    '<div class="RightSidebar__Container"><div class="SidebarAd">Advertisement</div></div>'
    '<div data-lyrics-container="true" class="Lyrics__Container-sc-78fb6627-1 hiRbsH">'
    "Float, float, nobody caught her<br>"
    '<div data-exclude-from-selection="true" class="InreadContainer">You might also like'
    '<a href="/songs/1002">Other Song</a></div>[Verse 2]<br>The harbour lights are counting down'
    "</div>"
)
SONG_1001_TEXT = (
    "[Verse 1]\nWe folded paper lanterns\nand we lit them by the pier\n"
    "The tide took every wish we had\nand kept them for a year\n\n"
    "[Chorus]\nFloat, float, over the water\nFloat, float, nobody caught her\n\n"
    "[Verse 2]\nThe harbour lights are counting down"
)

SONG_1002_HTML = (
    '<div class="song_body column_layout">'
    '<div class="column_layout-column_span column_layout-column_span--primary">'
    '<div class="lyrics"><!--sse--><p>[Intro]<br>Hm, hm<br><br>[Verse]<br>Chalk on the '
    '<a href="/555/Test-artist-old-song/Chalk" data-id="555">pavement, chalk on my hands</a>'
    "<br>Rain writes over everything it understands</p><!--/sse--></div></div></div>"
)
SONG_1002_TEXT = (
    "[Intro]\nHm, hm\n\n[Verse]\nChalk on the pavement, chalk on my hands\n"
    "Rain writes over everything it understands"
)

SONG_1003_HTML = '<div class="LyricsPlaceholder__Message">This song is an instrumental</div>'


def generated_lyrics(song_id: int) -> str:
    lines = [f"[Verse {song_id}]", f"Song {song_id} counts the windows on the street"]
    lines += [f"line {n} of song {song_id} keeps a steady beat" for n in range(1, 4)]
    return "\n".join(lines)


def song_page(song_id: int, title: str, lyrics_html: str) -> str:
    return f"""<!DOCTYPE html><html><head>
<title>{ARTIST} – {title} Lyrics | Genius Lyrics</title>
<meta property="og:title" content="{title}"></head><body>
<div class="Header__Container"><a href="/">Genius</a> Sign Up Featured Charts</div>
<div class="SongHeader-desktop__Container"><h1>{title}</h1>
<a href="/artists/Test-artist">{ARTIST}</a></div>
<div id="lyrics-root" class="Lyrics__Root">{lyrics_html}
<div class="LyricsFooter__Container">Embed<button>Cancel</button>How to Format Lyrics</div></div>
<div class="SongDescription__Content">About: a song written for the tests.</div>
</body></html>"""


def song_title(song_id: int) -> str:
    return {1001: "Paper Lanterns", 1002: "Chalk", 1003: "Interlude"}.get(
        song_id, f"Song {song_id}"
    )


def song_path(song_id: int) -> str:
    return f"/Test-artist-{song_title(song_id).lower().replace(' ', '-')}-lyrics"


def expected_text(song_id: int) -> str:
    return {1001: SONG_1001_TEXT, 1002: SONG_1002_TEXT}.get(song_id) or generated_lyrics(song_id)


def api_reply(payload: dict, status: int = 200) -> Reply:
    body = json.dumps({"meta": {"status": status}, "response": payload}).encode()
    return Reply(status, body, {"Content-Type": "application/json; charset=utf-8"})


def authorised(answer):
    def route(query, authorization):
        if authorization != f"Bearer {TOKEN}":
            return Reply(401, b'{"meta": {"status": 401}}', {"Content-Type": "application/json"})
        return answer(query)

    return route


def search(query) -> Reply:
    def hit(artist_id, name, song_id):
        artist = {"id": artist_id, "name": name, "url": f"https://genius.com/artists/{artist_id}"}
        result = {"id": song_id, "title": "x", "primary_artist": artist}
        return {"type": "song", "index": "song", "result": result}

    if query.get("q", [""])[0].casefold() != ARTIST.casefold():
        return api_reply({"hits": []})
    # A tribute act ranks first: the spider must pick the artist whose name matches.
    return api_reply(
        {"hits": [hit(90, f"{ARTIST} Tribute Band", 9001), hit(ARTIST_ID, ARTIST, 1001)]}
    )


def artist_songs(query) -> Reply:
    if query.get("sort") != ["popularity"]:
        return api_reply({"songs": [], "next_page": None}, status=400)
    per_page, page = int(query["per_page"][0]), int(query["page"][0])
    chunk = SONG_IDS[(page - 1) * per_page : page * per_page]
    songs = [
        {
            "id": song_id,
            "title": song_title(song_id),
            "path": song_path(song_id),
            "url": f"https://genius.com{song_path(song_id)}",
            "primary_artist": {"id": ARTIST_ID, "name": ARTIST},
        }
        for song_id in chunk
    ]
    more = page * per_page < len(SONG_IDS)
    return api_reply({"songs": songs, "next_page": page + 1 if more else None})


def build_genius_site(site: LocalSite) -> None:
    site.add_page("/robots.txt", "User-agent: *\nDisallow: /api/account\n", "text/plain")
    site.add_json_route("/api/search", authorised(search))
    site.add_json_route(f"/api/artists/{ARTIST_ID}/songs", authorised(artist_songs))
    for song_id in SONG_IDS:
        lyrics = {1001: SONG_1001_HTML, 1002: SONG_1002_HTML, 1003: SONG_1003_HTML}.get(song_id)
        if lyrics is None:
            body = generated_lyrics(song_id).replace("\n", "<br>")
            lyrics = f'<div data-lyrics-container="true" class="Lyrics__Container">{body}</div>'
        site.add_page(song_path(song_id), song_page(song_id, song_title(song_id), lyrics))
