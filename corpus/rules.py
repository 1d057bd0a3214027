"""The cleaning rules: small pure functions `str -> str`, each with a name a profile can pick.

Rules see a document in chunks (see `corpus.cleaning`): every chunk ends at a line break when the
text has one, so a rule may look at whole lines, but never across a chunk. A rule with scope
"head" sees only the first chunk of a document and one with scope "tail" only the last one.
A rule returns its argument itself when it changes nothing, which keeps the common case cheap.

Speed matters (hundreds of MB per run), so most rules first test for a literal substring with
`in`, which is far faster than scanning with a regular expression that finds nothing.
"""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from contracts import EOS_TOKEN


@dataclass(frozen=True)
class Rule:
    name: str
    apply: Callable[[str], str] | None  # None only for a registry entry built per run
    scope: str = "any"  # "any" chunk, or only the document's "head" / "tail" chunk
    summary: str = ""


def remove_eos(text: str) -> str:
    """The document delimiter inside a document would split it in two when training."""
    return text.replace(EOS_TOKEN, "") if EOS_TOKEN in text else text


# --- Unicode -------------------------------------------------------------------------------------


def _cp1252_byte_map() -> dict[str, int]:
    """Character → byte for text that was UTF-8 but got decoded as Windows-1252 (or Latin-1 for
    the five bytes cp1252 leaves undefined)."""
    table = {}
    for byte in range(0x80, 0x100):
        try:
            table[bytes([byte]).decode("cp1252")] = byte
        except UnicodeDecodeError:
            table[chr(byte)] = byte
    return table


_BYTE_OF = _cp1252_byte_map()
_CONT = "".join(re.escape(c) for c, b in _BYTE_OF.items() if 0x80 <= b <= 0xBF)
# A UTF-8 lead byte and the continuation bytes after it, seen through cp1252. A leading character
# class (not an alternation) lets the regex engine skip ahead fast; the count of continuation
# bytes is checked by decoding.
_MOJIBAKE = re.compile(f"[\xc2-\xf4][{_CONT}]+")


def _undo_mojibake(match: re.Match) -> str:
    seen = match.group()
    try:
        return bytes(_BYTE_OF[c] for c in seen).decode("utf-8")
    except UnicodeDecodeError:  # looked like mojibake, was not: leave it
        return seen


def repair_mojibake(text: str) -> str:
    """`â€™` → `’`, `Ã©` → `é`: UTF-8 read as Windows-1252, twice over at most."""
    for _ in range(2):  # text that went through the mix-up twice needs two passes
        if text.isascii():
            return text
        repaired = _MOJIBAKE.sub(_undo_mojibake, text)
        if repaired == text:
            return text
        text = repaired
    return text


_ODD_SPACE_CHARS = "\xa0\u1680\u2000-\u200a\u202f\u205f\u3000\x0b\x0c"
_INVISIBLE_CHARS = "\u200b-\u200d\u2060\ufeff\xad\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f"
_ANY_ODD = re.compile(f"[{_ODD_SPACE_CHARS}{_INVISIBLE_CHARS}\x85\u2028\u2029]")
_ODD_SPACE = re.compile(f"[{_ODD_SPACE_CHARS}]")


def _replace_odd(match: re.Match) -> str:
    char = match.group()
    if char == "\u2029":
        return "\n\n"
    if char in "\x85\u2028":
        return "\n"
    return " " if _ODD_SPACE.match(char) else ""


def normalise_spaces(text: str) -> str:
    """Non-breaking and other Unicode spaces → " "; zero-width characters, soft hyphens, the BOM
    and control characters removed; Unicode line/paragraph separators → line breaks."""
    return _ANY_ODD.sub(_replace_odd, text)  # one scan; matches are rare


def nfkc(text: str) -> str:
    """Unicode NFKC: one code point sequence per visible character (ligatures, full-width forms)."""
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


_SINGLE_QUOTES = "‘’‚‛′"
_DOUBLE_QUOTES = "“”„‟″"


def straighten_quotes(text: str) -> str:
    """Curly quotes → straight ones, so `it’s` and `it's` are one word to the tokenizer."""
    if text.isascii():
        return text
    for curly in _SINGLE_QUOTES:
        if curly in text:
            text = text.replace(curly, "'")
    for curly in _DOUBLE_QUOTES:
        if curly in text:
            text = text.replace(curly, '"')
    return text


# --- Lyrics sites --------------------------------------------------------------------------------

# Leading lines of a lyrics page: "12 Contributors", "Translations…", "Song Title Lyrics" (often
# glued together on one line).
_LYRICS_HEAD = re.compile(
    r"\A(?:[ \t\n]*(?:\d+ ?Contributors?|Translations|[^\n]{0,200}Lyrics)[ \t]*(?:\n|\Z))+"
)


def remove_lyrics_title(text: str) -> str:
    """The lines a lyrics page starts with: contributor count, translations, "… Lyrics" title."""
    return _LYRICS_HEAD.sub("", text, count=1)


# Matched after a line break, with one prepended to the text, so that the regex engine can jump
# from line break to line break instead of trying every position (several times faster).
_RESIDUE_LINE = re.compile(
    r"\n(?:\d+ ?Contributors?|Translations|\d*Embed|You might also like)[ \t]*(?=\n|\Z)"
)
_RESIDUE_WORDS = ("Contributor", "Translations", "Embed", "You might also like")
_GLUED_LIKE = re.compile(r"\nYou might also like(?=\S)")


def remove_lyrics_residue(text: str) -> str:
    """Whole lines a lyrics page adds ("N Contributors", "Translations", "Embed", "You might also
    like"), and "You might also like" glued to the start of the next lyric line."""
    if not any(word in text for word in _RESIDUE_WORDS):
        return text
    cleaned = _RESIDUE_LINE.sub("", "\n" + text)
    if "You might also like" in cleaned:
        cleaned = _GLUED_LIKE.sub("\n", cleaned)
    return text if len(cleaned) == len(text) + 1 else cleaned[1:]


_EMBED = "Embed"


def remove_embed_counter(text: str) -> str:
    """The "123Embed" a lyrics page ends with, glued to the last line (and a "You might also
    like" glued before it)."""
    at = text.rfind(_EMBED)
    if at == -1 or text[at + len(_EMBED) :].strip():
        return text
    kept = text[:at].rstrip("0123456789").rstrip(" \t")
    return kept.removesuffix("You might also like").rstrip(" \t")


# A whole line in brackets: "[Chorus]", "[Verse 2: Artist]", "[Intro]". Matched after a line
# break, so the text gets one prepended: that keeps the search on a literal prefix (fast).
_SECTION_HEADER = re.compile(r"\n\[[^\]\n]{1,80}\][ \t]*(?=\n|\Z)")


def remove_section_headers(text: str) -> str:
    """Lyric section headers: lines that are only "[…]"."""
    if "[" not in text:
        return text
    cleaned = _SECTION_HEADER.sub("", "\n" + text)[1:]
    return text if len(cleaned) == len(text) else cleaned


_ADLIB = re.compile(r"\([^()\n]{1,60}\)")


def remove_adlibs(text: str) -> str:
    """Ad-libs in parentheses: "Let's go (yeah, yeah)" → "Let's go "."""
    return _ADLIB.sub("", text) if "(" in text else text


# --- Wikis ---------------------------------------------------------------------------------------

_REFERENCE_MARK = re.compile(
    r"\[(?:\d{1,3}|[a-z]|edit|edit source|citation needed|clarification needed|"
    r"(?:note|n) \d{1,3})\]"
)


def remove_reference_marks(text: str) -> str:
    """Reference marks and edit links: "[1]", "[a]", "[citation needed]", "[edit]"."""
    return _REFERENCE_MARK.sub("", text) if "[" in text else text


_BANNER_PHRASES = (
    "This article does not yet meet the quality standards",
    "This article is incomplete",
    "This section is incomplete",
    "This article is a stub",
    "This section is a stub",
    "Please feel free to edit this",
    "Spoiler warning",
)
_BANNER_LINE = re.compile(
    "^[^\n]*(?:" + "|".join(map(re.escape, _BANNER_PHRASES)) + ")[^\n]*(?:\n|\\Z)", re.M
)


def remove_wiki_banners(text: str) -> str:
    """Lines carrying a wiki's quality, stub or spoiler banner."""
    if not any(phrase in text for phrase in _BANNER_PHRASES):
        return text
    return _BANNER_LINE.sub("", text)


# --- Whitespace ----------------------------------------------------------------------------------

_SPACE_RUN = re.compile(" {2,}")
_NEWLINE_RUN = re.compile("\n{3,}")


def normalise_whitespace(text: str) -> str:
    """Tabs → spaces, runs of spaces → one, no spaces at line starts or ends, 3+ line breaks → 2.

    Lines stay lines (lyrics) and blank lines stay paragraph breaks (episodes). The document's
    own start and end are trimmed by the cleaner, which knows where the document ends."""
    if "\t" in text:
        text = text.replace("\t", " ")
    if "  " in text:
        text = _SPACE_RUN.sub(" ", text)
    if " \n" in text:
        text = text.replace(" \n", "\n")
    if "\n " in text:
        text = text.replace("\n ", "\n")
    if "\n\n\n" in text:
        text = _NEWLINE_RUN.sub("\n\n", text)
    return text
