"""What the spiders extract; the pipelines turn these into corpus documents."""

from dataclasses import dataclass


@dataclass
class EpisodeItem:
    id: str  # episode code, e.g. "EP001"
    title: str
    url: str
    text: str  # plot section, one paragraph per line


@dataclass
class SongItem:
    id: str  # Genius song id
    title: str
    artist: str
    url: str
    text: str  # lyrics with section headers, one line per lyric line
