"""Analyse one copy: topics, countries, regions, its meeting event, dedupe features. Pure.

    topics      the ``[tags.<name>]`` rules (aggregator.tagging)
    countries   the gazetteer over title, text and categories; the event's venue
    regions     the UN M49 region of each country
    event       a dated meeting, workshop, conference or training (parse.events)
    features    what near-duplicate search compares (aggregator.dedupe)

Source tags (``org:unodc``) are not stored per copy: a story takes them from its
copies' sources when it is read, so changing a source's tags changes its stories.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aggregator import dedupe
from aggregator.gazetteer import country_name, find_countries, region_name, region_of
from aggregator.models import Analysis, Item, TagReason
from aggregator.parse.events import extract_event
from aggregator.tagging import FIELDS, TagRules, field_texts, topic_tags

#: the topic an extracted event implies when no rule gave it a kind of gathering already
EVENT_TOPIC = "meeting"
#: topics that already say what kind of gathering the event is
GATHERING_TOPICS = frozenset({"meeting", "training"})


@dataclass(frozen=True)
class Analyzer:
    rules: TagRules

    def __call__(self, item: Item) -> Analysis:
        return analyze(item, self.rules)


def analyze(item: Item, rules: TagRules) -> Analysis:
    found = extract_event(item.title, _html(item), published=item.published,
                          language=item.language)
    texts = field_texts(item)  # the HTML made plain once, for topics and countries
    tags: list[TagReason] = list(topic_tags(item, rules, texts=texts))
    if found is not None and not any(t.tag in GATHERING_TOPICS for t in tags):
        tags.append(TagReason(EVENT_TOPIC, "event", found.matched, ""))
    countries = country_reasons(item, texts)
    if found is not None and found.event.country:
        iso2 = found.event.country
        countries.setdefault(iso2, TagReason(f"country:{iso2}", "event",
                                             found.event.location or country_name(iso2), ""))
    tags.extend(countries.values())
    tags.extend(region_reasons(countries))
    features = dedupe.features(
        item.title, item.text, places=countries,
        title_places=[iso2 for iso2, r in countries.items() if r.field == "title"])
    return Analysis(
        tags=tuple(tags),
        event=found.event if found else None,
        event_text=found.matched if found else None,
        signature=features.signature,
        features=features.to_json(),
    )


def _html(item: Item) -> str:
    return "\n".join(h for h in (item.summary_html, item.content_html) if h)


def country_reasons(item: Item,
                    texts: Mapping[str, str] | None = None) -> dict[str, TagReason]:
    """``country:<iso2>`` for every country the copy names: the first mention explains it.

    Read in the title, summary, content and categories (``texts``: their
    :func:`~aggregator.tagging.field_texts`, when made already).
    """
    fields = texts if texts is not None else field_texts(item)
    out: dict[str, TagReason] = {}
    for name in FIELDS:  # title, summary, content, categories
        text = fields[name]
        if not text:
            continue
        for mention in find_countries(text):
            out.setdefault(mention.iso2, TagReason(f"country:{mention.iso2}", "gazetteer",
                                                   mention.matched, name))
    return out


def region_reasons(countries: dict[str, TagReason]) -> list[TagReason]:
    out: dict[str, TagReason] = {}
    for iso2 in countries:
        slug = region_of(iso2)
        if slug:
            out.setdefault(slug, TagReason(f"region:{slug}", "region",
                                           f"{country_name(iso2)} is in {region_name(slug)}", ""))
    return list(out.values())
