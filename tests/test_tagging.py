"""Topic rules: the shipped defaults on labelled cases, the rule language, its errors.

The labelled items are ``tests/data/tagging/cases.toml``, one parametrized test over all
of them; a new regression case is one new ``[[case]]`` table there.
"""

from __future__ import annotations

import html
import tomllib
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator import models, tagging
from aggregator.errors import ConfigError, UsageError
from aggregator.models import Item
from aggregator.tagging import TagReason, compile_rules, explain, topic_tags
from aggregator.tagrules import DEFAULT_RULES

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # the snapshots' "now"
CASES = tomllib.loads((Path(__file__).parent / "data" / "tagging" / "cases.toml")
                      .read_text(encoding="utf-8"))["case"]
TOPICS = {"migrant-smuggling", "human-trafficking", "meeting", "training", "publication",
          "legislation", "enforcement"}


def item(title: str = "", summary: str = "", *, content: str = "", language: str | None = "en",
         categories: tuple[str, ...] = ()) -> Item:
    return Item(source_id="test", guid=title or summary, url=None, canonical_url=None,
                title=title, summary_html=html.escape(summary), content_html=content,
                categories=categories, language=language)


def only(**tables: dict[str, Any]) -> tagging.TagRules:
    """Rules with every shipped default switched off but the given tables."""
    off: dict[str, Any] = {name: {"enabled": False} for name in DEFAULT_RULES}
    return compile_rules({**off, **{k.replace("_", "-"): v for k, v in tables.items()}})


def tags(found: tuple[TagReason, ...]) -> list[str]:
    return [t.tag for t in found]


def matched(text: str, term: str, **kwargs: Any) -> str | None:
    """What ``term`` matched in a title ``text``, or None."""
    found = topic_tags(item(text, **kwargs), only(x={"any": [term]}))
    return found[0].matched if found else None


# -- the shipped rules on labelled items ---------------------------------------------


def _case_item(case: dict[str, Any]) -> Item:
    return item(case["title"], case.get("summary", ""), content=case.get("content", ""),
                language=case["language"] or None, categories=tuple(case.get("categories", ())))


@pytest.mark.parametrize("case", [
    pytest.param(c, id=c["id"], marks=[pytest.mark.xfail(strict=True, reason=c["known_miss"])]
                 if "known_miss" in c else []) for c in CASES])
def test_shipped_rules_tag_the_labelled_items(case: dict[str, Any]) -> None:
    found = topic_tags(_case_item(case), compile_rules())
    assert set(tags(found)) == set(case["expect"]), [str(r) for r in found]
    # every tag explains itself with text that is really in the item
    for reason in found:
        assert reason.rule == f"tags.{reason.tag}" and reason.matched
        source = {"title": case["title"], "summary": case.get("summary", ""),
                  "content": case.get("content", ""),
                  "categories": " | ".join(case.get("categories", ()))}[reason.field]
        assert reason.matched in source


def test_the_cases_cover_every_topic_language_and_near_miss() -> None:
    assert len(CASES) >= 60 and len({c["id"] for c in CASES}) == len(CASES)
    assert {t for c in CASES for t in c["expect"]} == TOPICS
    assert {"en", "fr", "es"} <= {c["language"] for c in CASES}
    assert sum(1 for c in CASES if not c["expect"]) >= 15


def test_shipped_defaults_cover_the_topics_in_three_languages_at_least() -> None:
    assert set(DEFAULT_RULES) == TOPICS
    for table in DEFAULT_RULES.values():
        assert {"en", "fr", "es"} <= set(table["any"])
    assert compile_rules().names == tuple(sorted(TOPICS))


def test_reasons_are_the_shared_model_type_sorted_one_per_tag() -> None:
    found = topic_tags(item("Smugglers arrested", "Migrant smuggling network dismantled; "
                            "smugglers arrested again"), compile_rules())
    assert tagging.TagReason is models.TagReason
    assert found == (TagReason("enforcement", "tags.enforcement", "arrested", "title"),
                     TagReason("migrant-smuggling", "tags.migrant-smuggling", "Smugglers",
                               "title"))


def test_the_snapshots_are_tagged_as_an_editor_would() -> None:
    from aggregator.config import load_config, load_sources
    from aggregator.models import SourceKind
    from aggregator.normalize import normalize_entries
    from aggregator.parse import parse_document

    config = load_config(ROOT / "config.toml")
    rules = compile_rules(config.tags, path=config.path)
    titles: dict[str, set[str]] = {}
    for source in load_sources(config):
        if source.kind is not SourceKind.FEED:
            continue
        folder = ROOT / "feeds" / "snapshots" / source.id
        index = tomllib.loads((folder / "index.toml").read_text(encoding="utf-8"))
        file = next(r["file"] for r in index["response"] if r["url"] == source.url)
        feed = parse_document(source, source.url, (folder / file).read_bytes(), {})
        for it in normalize_entries(source, feed, now=NOW):
            titles[it.title] = set(tags(topic_tags(it, rules)))
    assert titles["Europol welcomes its new Deputy Executive Director for Operations"] == set()
    assert titles["Over 8 tonnes of cocaine seized in the ports of Antwerp and Rotterdam: "
                  "27 arrests"] == {"enforcement"}
    assert titles["World Drug Report 2026"] == {"publication"}
    assert titles["Smugglers moving migrants from Türkiye to Italy on sailing yachts: "
                  "9 arrests"] == {"enforcement", "migrant-smuggling"}
    assert titles["Guinea adopts its first law against the smuggling of migrants"] == {
        "legislation", "migrant-smuggling"}
    assert titles["UNODC launches free online course on investigating migrant smuggling"] == {
        "migrant-smuggling", "training"}
    # "the smuggling of gold, fuel, weapons and people": the goods veto the topic
    assert "migrant-smuggling" not in titles[
        "Organized crime in the Sahel feeds on gold, fuel and people, Security Council told"]
    assert titles["Global Report on Trafficking in Persons 2024"] >= {
        "human-trafficking", "publication"}


# -- the rule language ---------------------------------------------------------------------


@pytest.mark.parametrize(("term", "text", "expected"), [
    ("smuggler*", "Smugglers arrested", "Smugglers"),
    ("smuggler*", "the smuggler's boat", "smuggler"),
    ("smuggler*", "they smuggle people", None),  # only words that start with "smuggler"
    ("smuggler", "smugglers", None),  # without *, a whole word
    ("smuggler", "Smugglerville", None),
    ("smuggler", "anti-smuggler unit", "smuggler"),  # a hyphen is a word boundary
    ("egm", "a legman", None),
    ("people smuggling", "people-smuggling gang", "people-smuggling"),
    ("people smuggling", "people \n  smuggling", "people \n  smuggling"),
    ("people smuggling", "people - smuggling", "people - smuggling"),
    ("people smuggling", "people, smuggling", None),  # other punctuation breaks a phrase
    ("smuggl* of migrant*", "Smuggling of Migrants Protocol", "Smuggling of Migrants"),
    ("the meeting", "after the meeting ended", "the meeting"),
    ("tráfico ilícito", "TRAFICO ILICITO", "TRAFICO ILICITO"),
    ("trafico ilicito", "El Tráfico Ilícito de migrantes", "Tráfico Ilícito"),
    ("réunion", "REUNION d'experts", "REUNION"),
    ("d'êtres humains", "la traite d’êtres humains", "d’êtres humains"),
    ("strasse", "an der Straße 5", "Straße"),  # ß folds to two letters
    ("незаконн* ввоз* мигрант*", "Незаконный ввоз мигрантов", "Незаконный ввоз мигрантов"),
])
def test_terms_match_folded_on_word_boundaries(term: str, text: str,
                                               expected: str | None) -> None:
    assert matched(text, term) == expected


def test_decomposed_accents_match_and_come_back_as_written() -> None:
    text = unicodedata.normalize("NFD", "Tráfico ilícito de migrantes")
    assert matched(text, "trafico ilicito") == unicodedata.normalize("NFD", "Tráfico ilícito")
    assert matched("ﬁnancial ﬂows of smugglers", "smuggler*") == "smugglers"


def test_all_groups_must_each_match() -> None:
    rules = only(x={"any": ["smuggling"], "all": ["boat", "sea"]},
                 y={"any": ["smuggling"], "all": [["boat", "lorry"], ["arrest*"]]})
    assert tags(topic_tags(item("smuggling by boat at sea"), rules)) == ["x"]
    assert tags(topic_tags(item("smuggling by lorry: 3 arrests"), rules)) == ["y"]
    assert tags(topic_tags(item("smuggling by boat"), rules)) == []


def test_none_vetoes_in_the_rules_fields_only() -> None:
    rules = only(x={"any": ["smuggler*"], "none": ["drug smuggler*"], "fields": ["title"]})
    assert tags(topic_tags(item("Drug smugglers jailed"), rules)) == []
    assert tags(topic_tags(item("Smugglers jailed", "drug smugglers too"), rules)) == ["x"]


def test_min_matches_counts_distinct_terms() -> None:
    rules = only(x={"any": ["boat", "smuggler*", "crossing"], "min_matches": 2})
    assert tags(topic_tags(item("smugglers, smugglers, smuggler"), rules)) == []
    assert tags(topic_tags(item("smugglers", "a boat"), rules)) == ["x"]


def test_body_matches_ask_more_of_a_passing_mention_than_of_a_headline() -> None:
    rules = only(x={"any": ["workshop", "trained"], "body_matches": 2})
    assert tags(topic_tags(item("Prosecutors trained in Dakar"), rules)) == ["x"]  # title
    assert tags(topic_tags(item("News", "Prosecutors trained in Dakar. More."), rules)) == [
        "x"]  # the first sentence says what it is about
    later = "Police arrested eleven people on Tuesday. The officers had been trained in 2019."
    assert tags(topic_tags(item("Arrests", later), rules)) == []  # said once, in passing
    twice = later + " A workshop followed."
    assert tags(topic_tags(item("Arrests", twice), rules)) == ["x"]
    assert tags(topic_tags(item("News", later, categories=("Trained staff",)), rules)) == ["x"]


def test_languages_limit_a_rule_but_not_items_of_unknown_language() -> None:
    rules = only(x={"any": ["migrants"], "languages": ["fr"]})
    assert tags(topic_tags(item("migrants", language="en"), rules)) == []
    assert tags(topic_tags(item("migrants", language="fr-FR"), rules)) == ["x"]
    assert tags(topic_tags(item("migrants", language=None), rules)) == ["x"]
    assert tags(topic_tags(item("migrants", language="en"), rules, language="fr")) == ["x"]


def test_language_tables_apply_to_their_language_and_to_unknown() -> None:
    rules = only(x={"any": {"en": ["smuggler*"], "fr": ["passeur*"]}})
    assert tags(topic_tags(item("les passeurs", language="fr"), rules)) == ["x"]
    assert tags(topic_tags(item("les passeurs", language="en-GB"), rules)) == []
    assert tags(topic_tags(item("les passeurs", language=None), rules)) == ["x"]
    assert tags(topic_tags(item("les passeurs", language="de"), rules)) == []


def test_fields_and_the_content_lead_when_there_is_no_summary() -> None:
    rules = only(cat={"any": ["publication"], "fields": ["categories"]},
                 sub={"any": ["workshop"], "fields": ["title", "summary"]})
    assert topic_tags(item("A report", categories=("Publication",)), rules) == (
        TagReason("cat", "tags.cat", "Publication", "categories"),)
    assert topic_tags(item("x", content="<p>A workshop in Dakar.</p>"), rules) == (
        TagReason("sub", "tags.sub", "workshop", "content"),)
    long = "<p>" + "Filler text. " * 60 + "A workshop.</p>"
    assert topic_tags(item("x", content=long), rules) == ()  # the lead only


def test_the_first_field_and_the_earliest_match_explain_the_tag() -> None:
    rules = only(x={"any": ["raid*", "arrest*"]})
    found = topic_tags(item("Police raids", "Ten arrested in raids"), rules)
    assert found == (TagReason("x", "tags.x", "raids", "title"),)


def test_a_config_table_replaces_the_shipped_rule_of_that_name() -> None:
    rules = compile_rules({"meeting": {"any": ["assembly"]}})
    egm = item("Expert group meeting on smuggling of migrants")
    assert tags(topic_tags(egm, rules)) == ["migrant-smuggling"]
    assert "meeting" in tags(topic_tags(item("The assembly opens"), rules))
    assert "meeting" in tags(topic_tags(egm, compile_rules()))


def test_enabled_false_removes_a_rule_and_a_new_name_adds_one() -> None:
    rules = compile_rules({"enforcement": {"enabled": False},
                           "sea-rescue": {"any": ["rescue* at sea", "search and rescue"]}})
    assert "enforcement" not in rules.names and "sea-rescue" in rules.names
    found = tags(topic_tags(item("Smugglers arrested after rescue at sea"), rules))
    assert found == ["migrant-smuggling", "sea-rescue"]


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(("tables", "key", "expected"), [
    ({"x": {"any": ["a"], "anyy": ["b"]}}, "[tags.x] anyy", "did you mean 'any'"),
    ({"Bad_Name": {"any": ["a"]}}, "[tags.Bad_Name]", "lower-case"),
    ({"x": "smugglers"}, "[tags.x]", "expected a table, got 'smugglers'"),
    ({"x": {"none": ["a"]}}, "[tags.x] any", "missing"),
    ({"x": {"any": []}}, "[tags.x] any", "at least one term, got an empty list"),
    ({"x": {"any": "smuggler*"}}, "[tags.x] any", "a list of terms or a table"),
    ({"x": {"any": {}}}, "[tags.x] any", "a list of terms or a table"),
    ({"x": {"any": {"english": ["a"]}}}, "[tags.x] any.english", "language code"),
    ({"x": {"any": {"fr": []}}}, "[tags.x] any.fr", "at least one term"),
    ({"x": {"any": ["a", 3]}}, "[tags.x] any", "a list of terms, got a list"),
    ({"x": {"any": ["*smuggler"]}}, "[tags.x] any", "'*' only at the end of a word"),
    ({"x": {"any": ["smugg*ler"]}}, "[tags.x] any", "'*' only at the end of a word"),
    ({"x": {"any": ["s*"]}}, "[tags.x] any", "two letters or more before '*'"),
    ({"x": {"any": ["smuggler-"]}}, "[tags.x] any", "starts and ends with a word"),
    ({"x": {"any": ["  "]}}, "[tags.x] any", "starts and ends with a word"),
    ({"x": {"any": ["a"], "all": "b"}}, "[tags.x] all", "a list of term lists"),
    ({"x": {"any": ["a"], "all": [[]]}}, "[tags.x] all[1]", "at least one term"),
    ({"x": {"any": ["a"], "none": "b"}}, "[tags.x] none", "a list of terms or a table"),
    ({"x": {"any": ["a"], "fields": ["body"]}}, "[tags.x] fields", "title, summary"),
    ({"x": {"any": ["a"], "fields": []}}, "[tags.x] fields", "got an empty list"),
    ({"x": {"any": ["a"], "languages": "en"}}, "[tags.x] languages", "language codes"),
    ({"x": {"any": ["a"], "min_matches": 0}}, "[tags.x] min_matches", "from 1 to 1"),
    ({"x": {"any": ["a", "b"], "min_matches": 3}}, "[tags.x] min_matches", "from 1 to 2"),
    ({"x": {"any": ["a"], "min_matches": True}}, "[tags.x] min_matches", "got true"),
    ({"x": {"any": ["a"], "enabled": "no"}}, "[tags.x] enabled", "true or false"),
    ({"x": {"any": ["a", "b"], "min_matches": 2, "body_matches": 1}}, "[tags.x] body_matches",
     "at least min_matches (2)"),
])
def test_every_mistake_is_one_line_naming_the_file_and_key(tables: dict[str, Any], key: str,
                                                            expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        compile_rules(tables, path="/srv/config.toml")
    assert err.value.path == "/srv/config.toml" and err.value.key == key
    assert expected in err.value.message
    assert "\n" not in str(err.value) and str(err.value).startswith(f"/srv/config.toml: {key}: ")


# -- explain ------------------------------------------------------------------------------------


def test_explain_shows_terms_groups_vetoes_and_the_decision() -> None:
    rules = only(x={"any": ["smuggler*", "boat*"], "all": [["sea"], ["arrest*"]],
                    "none": ["drug*"]})
    it = item("Smugglers' boats seized at sea", "no drugs were found")
    (trace,) = explain(it, rules, "x")
    assert trace.rule == "tags.x" and not trace.decision
    assert [(m.term, m.matched, m.field) for m in trace.any] == [
        ("smuggler*", "Smugglers", "title"), ("boat*", "boats", "title")]
    assert [[m.matched for m in g] for g in trace.all] == [["sea"], []]
    assert trace.why == "all-group 2 did not match"
    assert [m.matched for m in trace.none] == ["drugs"]
    (trace,) = explain(item("Smugglers arrested at sea"), rules, "x")
    assert trace.decision and trace.reason == TagReason("x", "tags.x", "Smugglers", "title")
    (trace,) = explain(item("Smugglers arrested at sea, drugs seized"), rules, "x")
    assert not trace.decision and trace.why.startswith("vetoed by 'drug*' ('drugs' in title)")


def test_explain_covers_every_rule_and_agrees_with_topic_tags() -> None:
    rules = compile_rules()
    for case in CASES:
        it = _case_item(case)  # known misses too: explain must agree with the decision
        traces = explain(it, rules)
        assert [t.tag for t in traces] == list(rules.names)
        assert [t.reason for t in traces if t.decision] == list(topic_tags(it, rules))


def test_explain_an_unknown_rule_names_the_known_ones() -> None:
    with pytest.raises(UsageError, match="no tag rule named 'meetings'; the rules are: "
                                         "enforcement, human-trafficking"):
        explain(item("x"), compile_rules(), "meetings")


def test_explain_says_when_the_language_excludes_the_rule() -> None:
    (trace,) = explain(item("migrants", language="en"),
                       only(x={"any": ["migrants"], "languages": ["fr", "es"]}))
    assert not trace.decision and trace.why == "language en is not one of es, fr"
