"""Topic tags from keyword rules: ``[tags.<name>]`` tables over the shipped defaults.

    compile_rules(config.tags) ─► TagRules ─► topic_tags(item) ─► (TagReason, …)
                                          └─► explain(item)    ─► [RuleTrace, …]

A rule tags an item when at least ``min_matches`` distinct ``any`` terms, one term of
every ``all`` group and no ``none`` term occur in its ``fields``. Matching is case- and
accent-folded, on word boundaries; ``smuggler*`` matches words that start with
"smuggler"; the words of a term match with any run of spaces or hyphens between them.
Terms in a language table (``any = {fr = [...]}``) apply to items of that language and
to items whose language is unknown; so does a rule limited by ``languages``. An item
without a summary has the lead of its content read as its summary. A config table
replaces the shipped default of the same name whole (:mod:`aggregator.tagrules`);
``enabled = false`` removes it.

Pure and fast: every term of every rule is compiled once into one scanner, each field
of an item is folded and scanned once, and rules are then decided from the hits.
This module does topics only: countries, regions, events and source tags are added by
:mod:`aggregator.analyze` with the same :class:`TagReason` type.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aggregator import tagrules
from aggregator.errors import ConfigError, UsageError
from aggregator.language import primary
from aggregator.models import Item, TagReason
from aggregator.normalize import plain_text

__all__ = ["FIELDS", "RuleTrace", "TagReason", "TagRules", "TermMatch", "compile_rules",
           "explain", "field_texts", "fold", "topic_tags"]

#: where a rule may look, in the order a reason is chosen from
FIELDS = ("title", "summary", "content", "categories")
KEYS = ("any", "all", "none", "fields", "languages", "min_matches", "body_matches", "enabled")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_LANG_RE = re.compile(r"^[a-z]{2,3}$")
#: a term: words (a trailing * on any word) joined by spaces, hyphens or punctuation
_TERM_TOKEN_RE = re.compile(r"(\w+)(\*?)|([^\w*]+)|(\*)")
_GAP = r"[\s\-]+"

# -- folding ---------------------------------------------------------------------------

_EXTRA = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2010": "-", "\u2011": "-"}
_IRREGULAR: set[str] = set()  # characters that fold to more or fewer than one


class _FoldTable(dict[int, str]):
    def __missing__(self, code: int) -> str:
        char = chr(code)
        out = "".join(c for c in unicodedata.normalize("NFKD", char)
                      if not unicodedata.combining(c)).casefold()
        out = _EXTRA.get(out, out)
        if len(out) != 1:
            _IRREGULAR.add(char)
        self[code] = out
        return out


_FOLD = _FoldTable()


def fold(text: str) -> tuple[str, list[int] | None]:
    """``text`` case- and accent-folded, and where each folded character came from.

    The map is None when folding kept every character in place (the usual case).
    """
    if text.isascii():
        return text.lower(), None
    folded = text.translate(_FOLD)
    if len(folded) == len(text) and _IRREGULAR.isdisjoint(text):
        return folded, None
    starts = [i for i, char in enumerate(text) for _ in range(len(_FOLD[ord(char)]))]
    return folded, starts


def _original(text: str, starts: list[int] | None, start: int, end: int) -> str:
    if starts is None:
        return text[start:end]
    return text[starts[start]:starts[end] if end < len(starts) else len(text)]


# -- compiled rules ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Term:
    """One distinct folded term, found by its anchor (its longest word) and verified
    forwards from the anchor and backwards (on the reversed text) for the words before."""

    text: str  # as configured, for explanations
    anchor: str  # folded; a prefix when ``prefix``
    prefix: bool
    forward: re.Pattern[str] | None  # from the anchor on; None: the anchor word alone
    backward: re.Pattern[str] | None  # the words before the anchor, reversed; None: none


@dataclass(frozen=True, slots=True)
class _Terms:
    """Term ids of one key: for every language, and per language table."""

    common: frozenset[int]
    by_language: Mapping[str, frozenset[int]]
    everything: frozenset[int]

    def applying_to(self, language: str | None) -> frozenset[int]:
        if language is None:
            return self.everything
        # a key is either one list (common) or language tables (common is then empty)
        return self.by_language.get(language, self.common)


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    any: _Terms
    all: tuple[_Terms, ...]
    none: _Terms
    fields: tuple[str, ...]
    languages: frozenset[str]
    min_matches: int
    #: distinct terms needed when none is in the title or categories: what a story
    #: is about is in its headline, or it comes up more than once in passing
    body_matches: int = 1


@dataclass(frozen=True)
class TagRules:
    """Compiled rules: build with :func:`compile_rules` once, share freely (across threads
    too: the only state is a cache of which terms a word can start)."""

    rules: tuple[_Rule, ...]
    terms: tuple[_Term, ...]
    _scanner: re.Pattern[str] | None
    _exact: Mapping[str, tuple[int, ...]]
    _prefixes: Mapping[str, tuple[int, ...]]
    _prefix_lengths: tuple[int, ...]
    _memo: dict[str, tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rules)

    def scan(self, text: str) -> dict[int, tuple[int, int]]:
        """The first (start, end) of every term in folded ``text``, by term id."""
        hits: dict[int, tuple[int, int]] = {}
        if self._scanner is None:
            return hits
        reversed_text = ""
        for m in self._scanner.finditer(text):
            pos, word = m.start(), m.group()
            ids = self._memo.get(word)
            if ids is None:
                ids = self._terms_of(word)
            for tid in ids:
                if tid in hits:
                    continue
                term, start, end = self.terms[tid], pos, m.end()
                if term.forward is not None:
                    if not (ahead := term.forward.match(text, pos)):
                        continue
                    end = ahead.end()
                if term.backward is not None:
                    reversed_text = reversed_text or text[::-1]
                    if not (behind := term.backward.match(reversed_text, len(text) - pos)):
                        continue
                    start = pos - (behind.end() - behind.start())
                hits[tid] = (start, end)
        return hits

    def _terms_of(self, word: str) -> tuple[int, ...]:
        """The terms anchored on ``word`` (as a whole word or by a prefix), remembered."""
        ids = list(self._exact.get(word, ()))
        for n in self._prefix_lengths:
            ids.extend(self._prefixes.get(word[:n], ()) if n <= len(word) else ())
        if len(self._memo) > 100_000:  # bounded: text can be anything
            self._memo.clear()
        self._memo[word] = found = tuple(ids)
        return found


def compile_rules(tables: Mapping[str, Mapping[str, Any]] | None = None, *,
                  path: str | Path = "config.toml") -> TagRules:
    """The shipped defaults overlaid by ``tables`` (``Config.tags``), validated and compiled.

    Raises :class:`ConfigError` naming ``[tags.<name>] <key>`` for the first mistake.
    """
    chosen: dict[str, tuple[Mapping[str, Any], str | Path]] = {
        name: (table, tagrules.__file__) for name, table in tagrules.DEFAULT_RULES.items()}
    for name, table in (tables or {}).items():
        chosen[name] = (table, path)
    builder = _Builder()
    rules = [rule for name in sorted(chosen)
             if (rule := builder.rule(name, *chosen[name])) is not None]
    return builder.finish(rules)


class _Builder:
    """Validates tables and interns their terms (one id per distinct folded term)."""

    def __init__(self) -> None:
        self.terms: list[_Term] = []
        self.ids: dict[str, int] = {}

    def rule(self, name: str, table: Mapping[str, Any], path: str | Path) -> _Rule | None:
        where = f"[tags.{name}]"
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ConfigError(path, where, "expected a tag name of lower-case letters, digits "
                                           f"and '-' (such as migrant-smuggling), got {name!r}")
        if not isinstance(table, Mapping):
            raise ConfigError(path, where, f"expected a table, got {_describe(table)}")
        for key in table:
            if key not in KEYS:
                near = difflib.get_close_matches(str(key), KEYS, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise ConfigError(path, f"{where} {key}",
                                  f"expected one of {', '.join(KEYS)}, got an unknown key{hint}")

        def check(key: str, ok: bool, expected: str) -> None:
            if not ok:
                raise ConfigError(path, f"{where} {key}",
                                  f"expected {expected}, got {_describe(table[key])}")

        enabled = table.get("enabled", True)
        check("enabled", isinstance(enabled, bool), "true or false")
        if "any" not in table:
            if not enabled:
                return None
            raise ConfigError(path, f"{where} any", "missing; a rule needs `any` terms (a table "
                                                    "replaces the shipped rule of that name whole)")
        any_ = self.term_set(table["any"], path, f"{where} any", allow_empty=False)
        groups = table.get("all", [])
        check("all", isinstance(groups, list), "a list of term lists")
        all_ = tuple(self.term_set([g] if isinstance(g, str) else g, path,
                                   f"{where} all[{n}]", allow_empty=False)
                     for n, g in enumerate(groups, 1))
        none = self.term_set(table.get("none", []), path, f"{where} none", allow_empty=True)
        fields = table.get("fields", FIELDS)
        check("fields", isinstance(fields, list | tuple) and bool(fields)
              and all(f in FIELDS for f in fields), f"a list of {', '.join(FIELDS)}")
        languages = table.get("languages", [])
        check("languages", isinstance(languages, list) and all(
            isinstance(x, str) and _LANG_RE.match(x) for x in languages),
            'a list of language codes such as ["en", "fr"]')
        min_matches = table.get("min_matches", 1)
        check("min_matches", isinstance(min_matches, int) and not isinstance(min_matches, bool)
              and 1 <= min_matches <= len(any_.everything),
              f"a whole number from 1 to {len(any_.everything)} (the any terms)")
        body_matches = table.get("body_matches", min_matches)
        check("body_matches", isinstance(body_matches, int)
              and not isinstance(body_matches, bool) and body_matches >= min_matches,
              f"a whole number of at least min_matches ({min_matches})")
        if not enabled:
            return None
        return _Rule(name, any_, all_, none, tuple(f for f in FIELDS if f in fields),
                     frozenset(languages), min_matches, body_matches)

    def term_set(self, value: object, path: str | Path, key: str, *,
                 allow_empty: bool) -> _Terms:
        expected = 'a list of terms or a table of language = list (such as {en = ["..."]})'
        if isinstance(value, list):
            common = self.term_list(value, path, key, allow_empty)
            return _Terms(common, {}, common)
        if not isinstance(value, Mapping) or not value:
            raise ConfigError(path, key, f"expected {expected}, got {_describe(value)}")
        tables: dict[str, frozenset[int]] = {}
        for lang, terms in value.items():
            if not isinstance(lang, str) or not _LANG_RE.match(lang):
                raise ConfigError(path, f"{key}.{lang}", "expected a language code such as "
                                                         "en, fr or es")
            tables[lang] = self.term_list(terms, path, f"{key}.{lang}", False)
        everything = frozenset().union(*tables.values())
        return _Terms(frozenset(), tables, everything)

    def term_list(self, value: object, path: str | Path, key: str,
                  allow_empty: bool) -> frozenset[int]:
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise ConfigError(path, key, f"expected a list of terms, got {_describe(value)}")
        if not value and not allow_empty:
            raise ConfigError(path, key, "expected at least one term, got an empty list")
        return frozenset(self.term(t, path, key) for t in value)

    def term(self, text: str, path: str | Path, key: str) -> int:
        folded, _ = fold(" ".join(text.split()))
        if folded in self.ids:
            return self.ids[folded]
        words: list[tuple[str, bool]] = []
        gaps: list[str] = []  # gaps[i] lies between words[i] and words[i + 1]
        for m in _TERM_TOKEN_RE.finditer(folded):
            word, star, gap, stray = m.groups()
            after_word = len(words) > len(gaps)
            if stray or (word and after_word) or (gap and not after_word):
                raise ConfigError(path, key, f"expected a term of words (a '*' only at the end "
                                             f"of a word), got {text!r}")
            if word and star and len(word) < 2:
                raise ConfigError(path, key, f"expected two letters or more before '*', "
                                             f"got {text!r}")
            if word:
                words.append((word, bool(star)))
            else:
                gaps.append(gap)
        if not words or len(gaps) == len(words):
            raise ConfigError(path, key, f"expected a term that starts and ends with a word, "
                                         f"got {text!r}")
        k = max(range(len(words)), key=lambda i: _anchor_rank(*words[i]))
        forward = _word(*words[k]) + "".join(
            _gap(g) + _word(*w) for g, w in zip(gaps[k:], words[k + 1:], strict=True))
        backward = "".join(_gap(g[::-1]) + _word(w[::-1], star, reverse=True)
                           for g, (w, star) in zip(reversed(gaps[:k]), reversed(words[:k]),
                                                   strict=True))
        self.ids[folded] = len(self.terms)
        self.terms.append(_Term(text, words[k][0], words[k][1],
                                # after the anchor alone the scanner's match is enough
                                re.compile(forward + ("" if words[-1][1] else r"(?!\w)"))
                                if k + 1 < len(words) else None,
                                re.compile(backward + r"(?!\w)") if k else None))
        return self.ids[folded]

    def finish(self, rules: list[_Rule]) -> TagRules:
        used = {tid for r in rules for s in (r.any, r.none, *r.all) for tid in s.everything}
        exact: dict[str, list[int]] = {}
        prefixes: dict[str, list[int]] = {}
        for tid in sorted(used):
            term = self.terms[tid]
            (prefixes if term.prefix else exact).setdefault(term.anchor, []).append(tid)
        scanner = None
        if exact or prefixes:
            # a trie-shaped alternation: sre tries alternatives one by one, a trie does not
            trie = _trie_regex(exact, prefixes)
            scanner = re.compile(r"(?<!\w)(?=" + trie + r")\w+")
        return TagRules(tuple(rules), tuple(self.terms), scanner,
                        {w: tuple(ids) for w, ids in exact.items()},
                        {p: tuple(ids) for p, ids in prefixes.items()},
                        tuple(sorted({len(p) for p in prefixes})))


#: never anchors when a term has other words: "the meeting" is found by "meeting"
_FUNCTION_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "by", "de", "del", "des", "du", "el", "en", "et",
    "for", "has", "in", "is", "its", "la", "las", "le", "les", "los", "of", "on", "or", "par",
    "per", "por", "sur", "the", "to", "un", "una", "une", "was", "were", "y"})


def _anchor_rank(word: str, star: bool) -> tuple[bool, bool, int]:
    """The word a term is found by: a whole word before a prefix (rarer, and a dict
    lookup), a content word before a function word, then the longest."""
    content = word not in _FUNCTION_WORDS
    return (content and not star and len(word) >= 3, content, len(word))


def _word(word: str, star: bool, reverse: bool = False) -> str:
    if not star:
        return re.escape(word)
    return r"\w*" + re.escape(word) if reverse else re.escape(word) + r"\w*"


def _gap(raw: str) -> str:
    """Spaces and hyphens match any run of them; other punctuation matches itself."""
    if not raw.strip(" -"):
        return _GAP
    return "".join(_GAP if c in " -" else re.escape(c) for c in raw)


def _trie_regex(exact: Iterable[str], prefixes: Iterable[str]) -> str:
    """One alternation of words and prefixes, shaped as a trie (one branch per letter)."""
    root: dict[str, Any] = {}
    for words, mark in ((exact, "<word>"), (prefixes, "<prefix>")):
        for word in words:
            node = root
            for char in word:
                node = node.setdefault(char, {})
            node[mark] = {}

    def emit(node: dict[str, Any]) -> str:
        if "<prefix>" in node:  # anything longer matches too
            return ""
        alts = [re.escape(c) + emit(child) for c, child in sorted(node.items()) if len(c) == 1]
        if "<word>" in node:
            alts.append(r"(?!\w)")
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return emit(root)


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list):
        return "a table" if isinstance(value, Mapping) else "a list" if value else "an empty list"
    return repr(value)


# -- tagging -------------------------------------------------------------------------------

#: with no summary, the summary field reads the lead of the content (what a teaser says)
LEAD_CHARS = 600


class _Scanned:
    """One item's fields, each folded and scanned once (lazily, only if a rule looks)."""

    def __init__(self, item: Item, rules: TagRules,
                 texts: Mapping[str, str] | None = None) -> None:
        self.item = item
        self.rules = rules
        self.texts = texts
        self.cache: dict[str, tuple[str, str, list[int] | None, dict[int, tuple[int, int]]]] = {}
        self.present_in: dict[tuple[str, ...], frozenset[int]] = {}

    def text(self, name: str) -> str:
        return self.texts[name] if self.texts is not None else _field_text(self.item, name)

    def field(self, name: str) -> tuple[str, str, list[int] | None, dict[int, tuple[int, int]]]:
        """(where the text came from, the text, its fold map, the term hits)."""
        if name not in self.cache:
            source, text = name, self.text(name)
            if name == "summary" and not text and self.item.content_html:
                source, text = "content", self.text("content")[:LEAD_CHARS]
            folded, starts = fold(text)
            self.cache[name] = (source, text, starts, self.rules.scan(folded) if text else {})
        return self.cache[name]

    def present(self, rule: _Rule) -> frozenset[int]:
        """The terms found in the rule's fields (rules share a few field lists)."""
        if (found := self.present_in.get(rule.fields)) is None:
            found = frozenset().union(*(self.field(name)[3] for name in rule.fields))
            self.present_in[rule.fields] = found
        return found

    def matches(self, rule: _Rule, ids: frozenset[int]) -> dict[int, TermMatch]:
        """The first match of each term of ``ids`` in the rule's fields, in field order."""
        out: dict[int, TermMatch] = {}
        for name in rule.fields:
            source, text, starts, hits = self.field(name)
            for tid in sorted(ids & hits.keys(), key=lambda t: (hits[t][0], -hits[t][1])):
                start, end = hits[tid]
                headline = name in _HEADLINE_FIELDS or start < _lede_end(text)
                if tid not in out:
                    out[tid] = TermMatch(self.rules.terms[tid].text,
                                         _original(text, starts, start, end), source,
                                         headline=headline)
                elif headline and not out[tid].headline:  # explained where first seen
                    out[tid] = replace(out[tid], headline=True)
        return out


def field_texts(item: Item) -> dict[str, str]:
    """The text of each of :data:`FIELDS`, HTML made plain: what rules read. Made once
    per item, it can be given to :func:`topic_tags`."""
    return {name: _field_text(item, name) for name in FIELDS}


def _field_text(item: Item, name: str) -> str:
    return {"title": lambda: item.title, "summary": lambda: plain_text(item.summary_html),
            "content": lambda: plain_text(item.content_html),
            "categories": lambda: " | ".join(item.categories)}[name]()


def _excluded(rule: _Rule, lang: str | None) -> bool:
    # an item of unknown language is not excluded: it may be in any of them
    return bool(rule.languages) and lang is not None and lang not in rule.languages


def _tag(scanned: _Scanned, rule: _Rule, lang: str | None) -> TagReason | None:
    """The rule's decision, and its reason: the first any-term in the first field."""
    if _excluded(rule, lang):
        return None
    present = scanned.present(rule)
    found = rule.any.applying_to(lang) & present
    if (len(found) < rule.min_matches
            or any(present.isdisjoint(g.applying_to(lang)) for g in rule.all)
            or not present.isdisjoint(rule.none.applying_to(lang))):
        return None
    matches = scanned.matches(rule, found)
    if len(found) < rule.body_matches and not any(m.headline for m in matches.values()):
        return None
    best = next(iter(matches.values()))
    return TagReason(rule.name, f"tags.{rule.name}", best.matched, best.field)


#: fields that say what an item is about, not what it mentions
_HEADLINE_FIELDS = frozenset({"title", "categories"})
_SENTENCE_END_RE = re.compile(r"[.!?](?=\s|$)")
_LEDE_MAX = 300


def _lede_end(text: str) -> int:
    """Where the first sentence ends: the lede says what a story is about, too."""
    m = _SENTENCE_END_RE.search(text, 20, _LEDE_MAX)
    return m.end() if m else min(len(text), _LEDE_MAX)


def topic_tags(item: Item, rules: TagRules, *, language: str | None = None,
               texts: Mapping[str, str] | None = None) -> tuple[TagReason, ...]:
    """One :class:`TagReason` per topic whose rule matches ``item``, sorted by tag.

    ``language`` overrides ``item.language`` ("en-GB" counts as "en"; None: unknown);
    ``texts`` is the item's :func:`field_texts`, when the caller has made them already.
    """
    scanned = _Scanned(item, rules, texts)
    lang = primary(language or item.language)
    found = [reason for rule in rules.rules if (reason := _tag(scanned, rule, lang))]
    return tuple(sorted(found, key=lambda r: r.tag))


@dataclass(frozen=True, slots=True)
class TermMatch:
    term: str  # the term as configured ("smuggler*")
    matched: str  # the text as written in the item ("Smugglers")
    field: str
    #: in the title, the categories or the first sentence: what the item is about
    headline: bool = False


@dataclass(frozen=True)
class RuleTrace:
    """What one rule saw in one item, for ``tags test`` and ``items show --explain``."""

    tag: str
    decision: bool
    why: str  # one line: "2 any-terms matched (needs 1)", "vetoed by 'drug smuggl*' ..."
    language: str | None
    any: tuple[TermMatch, ...] = ()
    all: tuple[tuple[TermMatch, ...], ...] = ()  # per group; an empty group did not match
    none: tuple[TermMatch, ...] = ()
    min_matches: int = 1
    reason: TagReason | None = None

    @property
    def rule(self) -> str:
        return f"tags.{self.tag}"


def explain(item: Item, rules: TagRules, rule: str | None = None, *,
            language: str | None = None) -> list[RuleTrace]:
    """Every rule's view of ``item`` (or only that of the rule named ``rule``): its matched
    any-terms, all-groups and vetoes, and the decision, which is :func:`topic_tags`' own."""
    chosen: Iterable[_Rule] = rules.rules
    if rule is not None:
        chosen = [r for r in rules.rules if r.name == rule]
        if not chosen:
            raise UsageError(f"no tag rule named {rule!r}; the rules are: "
                             f"{', '.join(rules.names)}")
    scanned = _Scanned(item, rules)
    lang = primary(language or item.language)
    return [_trace(scanned, r, lang) for r in chosen]


def _trace(scanned: _Scanned, rule: _Rule, lang: str | None) -> RuleTrace:
    if _excluded(rule, lang):
        return RuleTrace(rule.name, False, f"language {lang} is not one of "
                         f"{', '.join(sorted(rule.languages))}", lang,
                         min_matches=rule.min_matches)
    found = tuple(scanned.matches(rule, rule.any.applying_to(lang)).values())
    groups = tuple(tuple(scanned.matches(rule, g.applying_to(lang)).values()) for g in rule.all)
    vetoes = tuple(scanned.matches(rule, rule.none.applying_to(lang)).values())
    reason = _tag(scanned, rule, lang)
    missing = [n for n, g in enumerate(groups, 1) if not g]
    why = f"{len(found)} any-term(s) matched (needs {rule.min_matches})"
    if len(found) >= rule.min_matches and missing:
        why = f"all-group {missing[0]} did not match"
    elif len(found) >= rule.min_matches and vetoes:
        why = f"vetoed by {vetoes[0].term!r} ({vetoes[0].matched!r} in {vetoes[0].field})"
    return RuleTrace(rule.name, reason is not None, why, lang, found, groups, vetoes,
                     rule.min_matches, reason)
