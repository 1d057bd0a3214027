"""Each cleaning rule on a before/after table; every rule is idempotent and keeps case."""

import pytest

from cli import UsageError
from corpus import rules
from corpus.spelling import read_table, spelling_rule

TABLES = {
    rules.remove_eos: [
        ("one <|endoftext|> two", "one  two"),
        ("no delimiter", "no delimiter"),
    ],
    rules.repair_mojibake: [
        ("itâ€™s", "it’s"),
        ("cafÃ©", "café"),
        ("Ã¢â‚¬â„¢", "’"),  # went through the mix-up twice
        ("â€œquotedâ€\x9d", "“quoted”"),  # cp1252 has no 0x9D: it survives as U+009D
        ("naïve café señor", "naïve café señor"),
        ("Ã( is not a sequence", "Ã( is not a sequence"),
        ("plain ASCII", "plain ASCII"),
    ],
    rules.normalise_spaces: [
        ("non\xa0breaking", "non breaking"),
        ("narrow\u202fspace", "narrow space"),
        ("zero\u200bwidth", "zerowidth"),
        ("\ufeffbom", "bom"),
        ("soft\xadhyphen", "softhyphen"),
        ("bell\x07 control", "bell control"),
        ("line\u2028separator", "line\nseparator"),
        ("para\u2029separator", "para\n\nseparator"),
        ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
    ],
    rules.nfkc: [
        ("ﬁne ligature", "fine ligature"),
        ("ＡＢＣ full width", "ABC full width"),
        ("e\u0301", "é"),
        ("café", "café"),
    ],
    rules.straighten_quotes: [
        ("it’s “fine”", 'it\'s "fine"'),
        ("‘single’ „low‟", "'single' \"low\""),
        ("straight 'already'", "straight 'already'"),
    ],
    rules.remove_lyrics_title: [
        ("12 ContributorsTranslationsEspañolSong Lyrics\n[Intro]\nYeah", "[Intro]\nYeah"),
        ("3 Contributors\nTranslations\nMy Song Lyrics\nFirst line", "First line"),
        ("First line\nSecond Lyrics", "First line\nSecond Lyrics"),
        ("Lyrics of my life\nline", "Lyrics of my life\nline"),
    ],
    rules.remove_lyrics_residue: [
        ("line one\nYou might also like\nline two", "line one\nline two"),
        ("a\nEmbed\nb", "a\nb"),
        ("a\n5 Contributors\nb", "a\nb"),
        ("Translations\nfirst", "first"),
        ("verse\nYou might also likeNext line", "verse\nNext line"),
        ("I said you might also like it", "I said you might also like it"),
    ],
    rules.remove_embed_counter: [
        ("last line42Embed", "last line"),
        ("last lineYou might also like12Embed", "last line"),
        ("last line\nEmbed\n", "last line\n"),
        ("Embed me in the middle\nend", "Embed me in the middle\nend"),
    ],
    rules.remove_section_headers: [
        ("[Chorus]\nla la\n[Verse 2: Artist]\nna na", "la la\nna na"),
        ("la\n[Outro]", "la"),
        ("[Intro]", ""),
        ("text [not a header] text", "text [not a header] text"),
    ],
    rules.remove_adlibs: [
        ("Let's go (yeah, yeah)", "Let's go "),
        ("(Woo!)\nline", "\nline"),
        ("(unclosed", "(unclosed"),
    ],
    rules.remove_reference_marks: [
        ("Ash won.[1] Then[23] more", "Ash won. Then more"),
        ("Plot[edit]", "Plot"),
        ("a fact[citation needed].", "a fact."),
        ("[note 2]x[a]", "x"),
        ("array[index] stays", "array[index] stays"),
    ],
    rules.remove_wiki_banners: [
        (
            "This article does not yet meet the quality standards of Bulbapedia.\nAsh left.",
            "Ash left.",
        ),
        ("Text\n050Spoiler warning: this article may contain plot details.", "Text\n"),
        ("Ash said: spoilers are fine", "Ash said: spoilers are fine"),
    ],
    rules.normalise_whitespace: [
        ("a  b   c", "a b c"),
        ("a\tb", "a b"),
        ("line  \nnext", "line\nnext"),
        ("x\n   y", "x\ny"),
        ("a\n\n\n\nb", "a\n\nb"),
        ("keep\nlines\n\nand paragraphs", "keep\nlines\n\nand paragraphs"),
    ],
}
CASES = [(rule, before, after) for rule, table in TABLES.items() for before, after in table]
IDS = [f"{rule.__name__}-{i}" for i, (rule, _, _) in enumerate(CASES)]


@pytest.mark.parametrize(("rule", "before", "after"), CASES, ids=IDS)
def test_rule_table(rule, before, after):
    assert rule(before) == after


@pytest.mark.parametrize(("rule", "before", "after"), CASES, ids=IDS)
def test_rules_are_idempotent(rule, before, after):
    assert rule(after) == after


@pytest.mark.parametrize("rule", list(TABLES), ids=lambda rule: rule.__name__)
def test_rules_keep_case_and_return_unchanged_text_itself(rule):
    text = "Ash And PIKACHU went To Town\n\nMisty Stayed"
    assert rule(text) is text


TSV = "# written\tnormalised\ngettin'\tgetting\nnothin'\tnothing\n\nya\tyou\n"
SPELLING = [
    ("Gettin' money", "Getting money"),
    ("GETTIN' IT", "GETTING IT"),
    ("nothin' gettin' ya", "nothing getting you"),
    ("forgettin' stays, yay stays", "forgettin' stays, yay stays"),
]


@pytest.mark.parametrize(("before", "after"), SPELLING)
def test_spelling_from_tsv(tmp_path, before, after):
    path = tmp_path / "spelling.tsv"
    path.write_text(TSV, encoding="utf-8")
    rule = spelling_rule(read_table(path))
    assert rule(before) == after
    assert rule(after) == after


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("gettin' getting\n", "is not 'written<TAB>normalised'"),
        ("a\tb\tc\n", "is not 'written<TAB>normalised'"),
        ("# only a comment\n", "has no"),
        (b"\xff\xfe bad", "cannot read"),
    ],
)
def test_spelling_table_errors_name_the_line(tmp_path, content, message):
    path = tmp_path / "spelling.tsv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(UsageError, match=message):
        read_table(path)
