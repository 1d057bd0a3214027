"""Genius: the API finds each artist and lists their songs by popularity; song pages give lyrics."""

import os
from urllib.parse import urlencode

import scrapy

from crawler.items import SongItem
from crawler.lyrics import lyrics_text
from crawler.spiders.corpus_spider import CorpusSpider, positive_int

MISSING_TOKEN = (
    "GENIUS_ACCESS_TOKEN is not set: create a client access token at "
    "https://genius.com/api-clients and export GENIUS_ACCESS_TOKEN=…"
)


def parse_artists(value) -> list[str]:
    """Artist names from a list, or from one string separated by ';'."""
    names = value.split(";") if isinstance(value, str) else list(value or [])
    names = [name.strip() for name in names if name and name.strip()]
    if not names:
        raise ValueError("name at least one artist: --artist NAME (or -a artist='A;B')")
    return names


def pick_artist(hits: list[dict], wanted: str) -> dict | None:
    """The search hit's primary artist named `wanted` (any case), else the top hit's."""
    artists = [hit["result"]["primary_artist"] for hit in hits if hit.get("type") == "song"]
    for artist in artists:
        if artist["name"].casefold() == wanted.casefold():
            return artist
    return artists[0] if artists else None


class GeniusSpider(CorpusSpider):
    name = "genius"

    def __init__(self, *args, artist=None, max_songs=60, **kwargs):
        super().__init__(*args, **kwargs)
        self.check_arguments(artist=artist, max_songs=max_songs)
        self.artists = parse_artists(artist)
        self.max_songs = positive_int(max_songs, name="max_songs")

    @classmethod
    def check_arguments(cls, *, artist=None, max_songs=60, **common) -> None:
        if not os.environ.get("GENIUS_ACCESS_TOKEN"):
            raise ValueError(MISSING_TOKEN)
        super().check_arguments(**common)
        parse_artists(artist)
        positive_int(max_songs, name="max_songs")

    def api_request(self, endpoint: str, params: dict, **kwargs) -> scrapy.Request:
        url = f"{self.settings['GENIUS_API_ROOT'].rstrip('/')}/{endpoint}?{urlencode(params)}"
        # API answers change and are cheap; the token is added at download time (middleware).
        return scrapy.Request(
            url, meta={"dont_cache": True}, errback=self.api_request_failed, **kwargs
        )

    def api_request_failed(self, failure):
        response = getattr(failure.value, "response", None)
        hint = " (is GENIUS_ACCESS_TOKEN valid?)" if response and response.status == 401 else ""
        self.logger.error(
            "The Genius API failed for %s: %s%s",
            failure.request.url,
            failure.getErrorMessage(),
            hint,
        )

    async def start(self):
        for artist in self.artists:
            yield self.api_request(
                "search", {"q": artist}, callback=self.parse_search, cb_kwargs={"wanted": artist}
            )

    def parse_search(self, response, wanted):
        artist = pick_artist(response.json()["response"]["hits"], wanted)
        if artist is None:
            self.logger.error("Genius knows no artist named %r; check the spelling", wanted)
            return
        yield self.songs_request(artist, page=1, listed=0)

    def songs_request(self, artist: dict, *, page: int, listed: int) -> scrapy.Request:
        params = {
            "sort": "popularity",
            "per_page": self.settings.getint("GENIUS_PAGE_SIZE"),
            "page": page,
        }
        return self.api_request(
            f"artists/{artist['id']}/songs",
            params,
            callback=self.parse_songs,
            cb_kwargs={"artist": {"id": artist["id"], "name": artist["name"]}, "listed": listed},
        )

    def parse_songs(self, response, artist, listed):
        body = response.json()["response"]
        web_root = self.settings["GENIUS_WEB_ROOT"].rstrip("/")
        for song in body["songs"][: self.max_songs - listed]:
            listed += 1
            song_id = str(song["id"])
            if self.skip_finished(song_id):
                continue
            yield scrapy.Request(
                web_root + song["path"],
                callback=self.parse_song,
                cb_kwargs={
                    "song_id": song_id,
                    "title": song["title"],
                    "artist": song["primary_artist"]["name"],
                },
            )
        if body.get("next_page") and listed < self.max_songs:
            yield self.songs_request(artist, page=body["next_page"], listed=listed)

    def parse_song(self, response, song_id, title, artist):
        yield SongItem(
            id=song_id,
            title=title,
            artist=artist,
            url=response.url,
            text=lyrics_text(response.text),
        )
