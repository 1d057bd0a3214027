"""Which rules run, in which order: the registry fixes the order, a profile picks the rules.

`--with NAME` adds a rule to the profile's pick (e.g. the optional `adlibs`), `--without NAME`
takes one out; either way the rules run in registry order, so a pick cannot reorder them.
"""

from cli import UsageError
from corpus import rules
from corpus.rules import Rule
from corpus.spelling import spelling_rule

# Registry order = run order: repair the encoding before anything matches words, remove whole
# lines before whitespace is tidied, tidy whitespace last.
REGISTRY: tuple[Rule, ...] = (
    Rule("eos", rules.remove_eos, summary="<|endoftext|> inside a document removed"),
    Rule("mojibake", rules.repair_mojibake, summary="UTF-8 read as cp1252 repaired"),
    Rule("spaces", rules.normalise_spaces, summary="odd spaces, invisible and control characters"),
    Rule("nfkc", rules.nfkc, summary="Unicode NFKC"),
    Rule("quotes", rules.straighten_quotes, summary="curly quotes straightened"),
    Rule("lyrics_title", rules.remove_lyrics_title, "head", "leading contributors/title lines"),
    Rule("lyrics_residue", rules.remove_lyrics_residue, summary="lyrics-site lines"),
    Rule("lyrics_embed", rules.remove_embed_counter, "tail", "trailing embed counter"),
    Rule("section_headers", rules.remove_section_headers, summary="[Chorus]-style lines"),
    Rule("adlibs", rules.remove_adlibs, summary="ad-libs in parentheses (optional)"),
    Rule("wiki_refs", rules.remove_reference_marks, summary="[1], [edit], [citation needed]"),
    Rule("wiki_banners", rules.remove_wiki_banners, summary="quality/stub/spoiler banner lines"),
    # Built from --spelling FILE.tsv by select_rules(); listed here for its place in the order.
    Rule("spelling", None, summary="spelling from --spelling FILE.tsv"),
    Rule("whitespace", rules.normalise_whitespace, summary="spaces and blank lines tidied"),
)
RULE_NAMES = tuple(rule.name for rule in REGISTRY)
REQUIRED = frozenset({"eos"})  # without it a document could split the training file's format

_COMMON = ("eos", "mojibake", "spaces", "nfkc", "quotes")
PROFILES: dict[str, tuple[str, ...]] = {
    "plain": (*_COMMON, "whitespace"),
    "lyrics": (
        *_COMMON,
        *("lyrics_title", "lyrics_residue", "lyrics_embed", "section_headers", "whitespace"),
    ),
    "episodes": (*_COMMON, "wiki_refs", "wiki_banners", "whitespace"),
}


def _check_names(names, *, flag: str) -> None:
    unknown = [name for name in names if name not in RULE_NAMES]
    if unknown:
        raise UsageError(
            f"unknown rule {unknown[0]!r} in {flag}; valid rules: {', '.join(RULE_NAMES)}"
        )


def select_rules(
    profile: str,
    *,
    with_rules=(),
    without_rules=(),
    spelling: dict[str, str] | None = None,
) -> list[Rule]:
    """The rules a run applies, in registry order."""
    if profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    _check_names(with_rules, flag="--with")
    _check_names(without_rules, flag="--without")
    if REQUIRED & set(without_rules):
        raise UsageError(f"rule {sorted(REQUIRED)[0]!r} cannot be left out; drop that --without")
    picked = set(PROFILES[profile]) | set(with_rules) | ({"spelling"} if spelling else set())
    picked -= set(without_rules)
    if "spelling" in picked and not spelling:
        raise UsageError("rule 'spelling' needs a table: add --spelling FILE.tsv")
    return build_rules(picked, spelling=spelling)


def build_rules(names, *, spelling: dict[str, str] | None = None) -> list[Rule]:
    """The named rules in registry order (names already checked; also how worker processes
    rebuild a run's rules, since the spelling rule, a closure, cannot be pickled)."""
    chosen = []
    for rule in REGISTRY:
        if rule.name == "spelling" and "spelling" in names:
            chosen.append(Rule("spelling", spelling_rule(spelling), summary=rule.summary))
        elif rule.name in names:
            chosen.append(rule)
    return chosen
