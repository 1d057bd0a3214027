"""Profiles pick rules, the registry orders them, bad names are refused with the valid ones."""

import pytest

from cli import UsageError
from corpus.profiles import PROFILES, RULE_NAMES, select_rules


def names(rules):
    return [rule.name for rule in rules]


def test_profiles_pick_rules_in_registry_order():
    for profile in PROFILES:
        chosen = names(select_rules(profile))
        assert chosen == sorted(chosen, key=RULE_NAMES.index)
        assert chosen[0] == "eos" and chosen[-1] == "whitespace"
    assert "section_headers" in names(select_rules("lyrics"))
    assert "wiki_refs" in names(select_rules("episodes"))
    assert "section_headers" not in names(select_rules("plain"))


def test_with_and_without_change_the_pick_not_the_order():
    chosen = names(select_rules("lyrics", with_rules=["adlibs"], without_rules=["quotes"]))
    assert "adlibs" in chosen and "quotes" not in chosen
    assert chosen.index("section_headers") < chosen.index("adlibs") < chosen.index("whitespace")


def test_spelling_table_adds_the_spelling_rule():
    rules = select_rules("plain", spelling={"gettin'": "getting"})
    assert names(rules).index("spelling") == len(rules) - 2
    assert rules[-2].apply("gettin' there") == "getting there"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"profile": "poems"}, "unknown profile 'poems'; valid profiles: plain, lyrics, episodes"),
        ({"with_rules": ["sparkle"]}, "unknown rule 'sparkle' in --with; valid rules: eos,"),
        ({"without_rules": ["nope"]}, "unknown rule 'nope' in --without; valid rules: eos,"),
        ({"without_rules": ["eos"]}, "cannot be left out"),
        ({"with_rules": ["spelling"]}, "needs a table: add --spelling FILE.tsv"),
    ],
)
def test_bad_names_are_refused_with_the_valid_ones(kwargs, message):
    kwargs = {"profile": "lyrics", **kwargs}
    with pytest.raises(UsageError) as raised:
        select_rules(kwargs.pop("profile"), **kwargs)
    assert message in str(raised.value)
