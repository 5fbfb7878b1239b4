"""Every published file is valid for its format, checked on the outputs of one offline run.

    feed.json tags/*.json                   JSON Feed 1.1 (a JSON Schema written from the
                                            spec, tests/data/validity/) and the rules a
                                            schema cannot say
    feed.xml featured.xml tags/*.xml        RSS 2.0: what the W3C Feed Validator checks
    atom.xml tags/*.atom                    Atom 1.0 (RFC 4287)
    index.html page/*.html tags/index.html  HTML5, with the Nu Html Checker (tests/vnu.py)
    every feed                              parses back (feedparser, json)

The run uses the shipped config and snapshots with ``[output] items = 40``, so that the
archive has more than one page, then pins one story and publishes again, so that
featured.xml and the featured section of the front page are not empty.

Each test collects every problem of every file and reports them all at once, as
``file: where: what (the rule)``.
"""

from __future__ import annotations

import email.utils
import json
import re
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import lxml.html
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from lxml import etree

from tests import vnu

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "validity" / "jsonfeed-1.1.schema.json"
#: stories per feed and page in the run: the 88 stories of the snapshots make 3 pages
ITEMS = 40

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM = f"{{{ATOM_NS}}}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
XHTML_NS = "http://www.w3.org/1999/xhtml"

#: C0 controls but TAB, LF and CR; DEL; C1 controls
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: libxml2 before 2.14 does not know the HTML5 element names: not a problem of the markup
HTML5_TAG_UNKNOWN = re.compile(r"^Tag \S+ invalid")
MARKUP = re.compile(r"<[A-Za-z/!?]")
EMAIL = re.compile(r"[^@\s()<>]+@[^@\s()<>]+\.[^@\s()<>]+")
IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$")
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: valid "global date and time string" of HTML (a time zone; 1 to 3 digits of a second)
HTML_GLOBAL_DATETIME = re.compile(
    r"^\d{4,}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})$")
#: valid HTML date string / local date and time string (other forms of time@datetime)
HTML_OTHER_DATETIME = re.compile(
    r"^\d{4,}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?)?$")
ATOM_FEED_ONCE = ("generator", "icon", "id", "logo", "rights", "subtitle", "title", "updated")
ATOM_ENTRY_ONCE = ("content", "id", "published", "rights", "source", "summary", "title",
                   "updated")
ATOM_SOURCE_CHILDREN = {"author", "category", "contributor", "generator", "icon", "id",
                        "link", "logo", "rights", "subtitle", "title", "updated"}


# -- the run --------------------------------------------------------------------------


@dataclass
class Site:
    """The output folder of the run."""

    root: Path
    pinned_id: str
    _json: dict[Path, Any] = field(default_factory=dict)

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    @cached_property
    def rss(self) -> list[Path]:
        return [self.root / "feed.xml", self.root / "featured.xml",
                *sorted((self.root / "tags").glob("*.xml"))]

    @cached_property
    def atom(self) -> list[Path]:
        return [self.root / "atom.xml", *sorted((self.root / "tags").glob("*.atom"))]

    @cached_property
    def json_feeds(self) -> list[Path]:
        return [self.root / "feed.json", *sorted((self.root / "tags").glob("*.json"))]

    @cached_property
    def pages(self) -> list[Path]:
        numbered = sorted((self.root / "page").glob("*.html"), key=lambda p: int(p.stem))
        return [self.root / "index.html", *numbered, self.root / "tags" / "index.html",
                self.root / "digests" / "index.html",
                *sorted((self.root / "digests").glob("2*.html"))]

    def load_json(self, path: Path) -> Any:
        if path not in self._json:
            self._json[path] = json.loads(path.read_text(encoding="utf-8"))
        return self._json[path]


def _cli(project: Path, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "aggregator", "--config",
                             str(project / "config.toml"), *args],
                            cwd=project, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"aggregator {' '.join(args)}: exit {result.returncode}\n"
                             f"{result.stdout}\n{result.stderr}")
    return result.stdout


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    project = tmp_path_factory.mktemp("validity") / "project"
    project.mkdir()
    config = (ROOT / "config.toml").read_text(encoding="utf-8")
    config, found = re.subn(r"(?m)^\[output\][ \t]*$", f"[output]\nitems = {ITEMS}", config,
                            count=1)
    assert found == 1, "config.toml has no [output] table any more: update this fixture"
    (project / "config.toml").write_text(config, encoding="utf-8")
    shutil.copytree(ROOT / "feeds", project / "feeds")
    _cli(project, "run", "--once", "--offline")
    stories = json.loads(_cli(project, "items", "list", "--json"))
    # feature the story with the most copies (its "Also reported by" markup is checked too)
    pinned = max(stories, key=lambda s: (len(s["duplicates"]), len(s["tags"])))
    _cli(project, "pin", pinned["id"])
    _cli(project, "publish")
    return Site(project / "output", pinned["id"])


@pytest.fixture(scope="module")
def formats() -> FormatChecker:
    """A format checker that really checks RFC 3339 date-times."""
    checker = FormatChecker()
    if checker.conforms("yesterday", "date-time"):
        pytest.fail("jsonschema checks no date-time format without the rfc3339-validator "
                    "package: pip install rfc3339-validator")
    return checker


def test_the_run_produced_every_kind_of_output(site: Site) -> None:
    """The checks below are not vacuous: every kind of file is there, with stories."""
    for name in ("feed.xml", "atom.xml", "feed.json", "featured.xml", "index.html",
                 "tags/index.html"):
        assert (site.root / name).is_file(), name
    assert len(site.pages) >= 4, "expected index.html, page/2.html, ... and tags/index.html"
    slugs = {p.stem for p in (site.root / "tags").glob("*.xml")}
    assert len(slugs) > 10
    for slug in slugs:
        for ext in ("atom", "json"):
            assert (site.root / "tags" / f"{slug}.{ext}").is_file(), f"tags/{slug}.{ext}"
    assert len(site.load_json(site.root / "feed.json")["items"]) == ITEMS
    featured = etree.parse(str(site.root / "featured.xml"))
    assert len(featured.findall("channel/item")) == 1
    assert f'id="story-{site.pinned_id}" class="featured"' in (
        site.root / "index.html").read_text(encoding="utf-8")


# -- shared checks --------------------------------------------------------------------


def html_problems(markup: str | None) -> list[str]:
    """Why ``markup`` (an HTML fragment, as carried by a feed) does not parse cleanly."""
    if markup is None or not markup.strip():
        return ["empty HTML"]
    parser = etree.HTMLParser(recover=True)
    try:
        lxml.html.fragments_fromstring(markup, parser=parser)
    except (etree.ParserError, ValueError) as e:
        return [f"HTML does not parse: {e}"]
    return [f"HTML line {e.line}: {e.message.strip()}" for e in parser.error_log
            if not HTML5_TAG_UNKNOWN.match(e.message)]


def is_web_url(value: str | None) -> bool:
    if not value:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value


def control_problems(rel: str, text: str) -> list[str]:
    problems = []
    for number, line in enumerate(text.split("\n"), 1):  # not splitlines: U+0085
        for match in CONTROL.finditer(line):
            problems.append(f"{rel}:{number}: raw control character U+{ord(match[0]):04X} "
                            f"(XML 1.0 §2.2 forbids C0 controls; C1 are discouraged)")
    return problems


def tree_control_problems(rel: str, tree: etree._ElementTree) -> list[str]:
    """Control characters in decoded text and attributes (escaped HTML included)."""
    problems = []
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        values = [el.text or "", *el.attrib.values()]
        if any(CONTROL.search(v) for v in values):
            problems.append(f"{rel}:{el.sourceline}: <{etree.QName(el).localname}> holds a "
                            f"control character")
    return problems


def parse_xml(path: Path, rel: str, problems: list[str]) -> etree._ElementTree | None:
    problems += control_problems(rel, path.read_bytes().decode("utf-8", "replace"))
    try:
        tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as e:
        problems.append(f"{rel}: not well-formed XML: {e}")
        return None
    problems += tree_control_problems(rel, tree)
    return tree


def report(problems: list[str], what: str) -> None:
    if problems:
        shown = "\n".join(problems[:200])
        more = f"\n... and {len(problems) - 200} more" if len(problems) > 200 else ""
        pytest.fail(f"{len(problems)} {what} problem(s):\n{shown}{more}", pytrace=False)


# -- JSON Feed 1.1 --------------------------------------------------------------------


@pytest.fixture(scope="module")
def jsonfeed_validator(formats: FormatChecker) -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=formats)


def _minimal_feed(**item: Any) -> dict[str, Any]:
    return {"version": "https://jsonfeed.org/version/1.1", "title": "t",
            "items": [{"id": "1", "content_text": "x", **item}]}


#: (what breaks a valid feed, the rule it breaks)
SCHEMA_CASES: list[tuple[Callable[[dict[str, Any]], object], str]] = [
    (lambda f: f.pop("version"), "version is required"),
    (lambda f: f.update(version="https://jsonfeed.org/version/1"), "version is 1.1's URL"),
    (lambda f: f.pop("title"), "title is required"),
    (lambda f: f.pop("items"), "items is required"),
    (lambda f: f.update(favourite="x"), "unknown key on the feed"),
    (lambda f: f.update(hubs=[{"type": "WebSub"}]), "hub needs a url"),
    (lambda f: f.update(authors=[{}]), "author needs name, url or avatar"),
    (lambda f: f.update(authors=[{"name": "a", "email": "a@b.c"}]), "authors have no email"),
    (lambda f: f["items"][0].pop("id"), "item id is required"),
    (lambda f: f["items"][0].update(id=1), "item id is a string"),
    (lambda f: f["items"][0].pop("content_text"), "content_html or content_text"),
    (lambda f: f["items"][0].update(date_published="27 Nov 2026"), "RFC 3339 dates"),
    (lambda f: f["items"][0].update(date_modified="2026-11-27T10:00:00"), "with an offset"),
    (lambda f: f["items"][0].update(tags=["a", 1]), "tags are strings"),
    (lambda f: f["items"][0].update(attachments=[{"url": "u"}]), "attachment mime_type"),
    (lambda f: f["items"][0].update(author={"_x": {}}), "_x alone is no author field"),
    (lambda f: f["items"][0].update(summary_html="x"), "unknown key on an item"),
    (lambda f: f["items"][0].update(_1={}), "extension names start _ and a letter"),
]


@pytest.mark.parametrize(("change", "rule"), SCHEMA_CASES, ids=[r for _, r in SCHEMA_CASES])
def test_the_json_feed_schema_rejects_what_the_spec_forbids(
        jsonfeed_validator: Draft202012Validator,
        change: Callable[[dict[str, Any]], object], rule: str) -> None:
    good = _minimal_feed(date_published="2026-11-27T10:00:00.5+01:00",
                         authors=[{"url": "https://example.org/", "_ext": 1}],
                         attachments=[{"url": "https://example.org/a.mp3",
                                       "mime_type": "audio/mpeg", "size_in_bytes": 3}],
                         _aggregator={"anything": ["goes", 1]})
    good["hubs"] = [{"type": "WebSub", "url": "https://hub.example.org/"}]
    good["_ext"] = {"about": "https://example.org/ext"}
    assert list(jsonfeed_validator.iter_errors(good)) == []
    bad = json.loads(json.dumps(good))
    change(bad)
    assert list(jsonfeed_validator.iter_errors(bad)), rule


def test_json_feeds_are_valid_json_feed_1_1(site: Site,
                                            jsonfeed_validator: Draft202012Validator) -> None:
    problems = []
    for path in site.json_feeds:
        rel = site.rel(path)
        for error in jsonfeed_validator.iter_errors(site.load_json(path)):
            where = "/".join(str(p) for p in error.absolute_path) or "(feed)"
            problems.append(f"{rel}: {where}: {error.message}")
    report(problems, "JSON Feed 1.1 schema")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_json_feeds_follow_the_rules_a_schema_cannot_check(site: Site) -> None:
    """Unique ids, plain-text fields, parseable HTML, a feed_url naming the file."""
    problems = []
    for path in site.json_feeds:
        rel = site.rel(path)
        feed = site.load_json(path)
        if not str(feed.get("feed_url", "")).endswith("/" + rel):
            problems.append(f"{rel}: feed_url {feed.get('feed_url')!r} does not name this file "
                            f"(1.1: feed_url is the URL of the feed)")
        if any(CONTROL.search(s) for s in _strings(feed)):
            problems.append(f"{rel}: a string holds a control character")
        if "language" in feed and not LANGUAGE_TAG.match(feed["language"]):
            problems.append(f"{rel}: language {feed['language']!r} is no RFC 5646 tag")
        for url_key in ("home_page_url", "feed_url"):
            if url_key in feed and not is_web_url(feed[url_key]):
                problems.append(f"{rel}: {url_key} {feed[url_key]!r} is not an absolute URL")
        ids = Counter(item.get("id") for item in feed.get("items", []))
        problems += [f"{rel}: item id {i!r} appears {n} times (1.1: id is unique in the feed)"
                     for i, n in ids.items() if n > 1]
        for n, item in enumerate(feed.get("items", [])):
            where = f"{rel}: items/{n} ({item.get('id')})"
            for key in ("title", "summary", "content_text"):
                if MARKUP.search(item.get(key) or ""):
                    problems.append(f"{where}: {key} holds markup (1.1: {key} is plain text)")
            if "content_html" in item:
                problems += [f"{where}: content_html: {p}"
                             for p in html_problems(item["content_html"])]
            for url_key in ("url", "external_url"):
                if url_key in item and not is_web_url(item[url_key]):
                    problems.append(f"{where}: {url_key} {item[url_key]!r} is not absolute")
    report(problems, "JSON Feed")


# -- RSS 2.0 --------------------------------------------------------------------------


def rfc822_problem(text: str | None) -> str | None:
    """Why ``text`` is no RFC 822 date (as RSS 2.0 amends it: 4-digit years allowed)."""
    if not text or not text.strip():
        return "empty date"
    parsed = email.utils.parsedate_tz(text)
    if parsed is None:
        return f"{text!r} is no RFC 822 date"
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError) as e:
        return f"{text!r}: {e}"
    if parsed[9] is None and not re.search(r"\b(GMT|UT|UTC|[ECMP][SD]T|Z)\s*$", text):
        return f"{text!r} has no time zone"
    if not re.search(r"\b\d{4}\b", text):
        return f"{text!r} should have a 4-digit year"
    day = text.strip()[:3]
    if day in WEEKDAYS and WEEKDAYS.index(day) != when.weekday():
        return f"{text!r}: wrong day of the week"
    return None


def rss_problems(site: Site, path: Path) -> list[str]:
    rel = site.rel(path)
    problems: list[str] = []
    tree = parse_xml(path, rel, problems)
    if tree is None:
        return problems
    rss = tree.getroot()
    if rss.tag != "rss" or rss.get("version") != "2.0":
        return [*problems, f"{rel}: root is <{rss.tag} version={rss.get('version')!r}>, "
                           f"not <rss version=\"2.0\">"]
    channels = rss.findall("channel")
    if len(channels) != 1:
        return [*problems, f"{rel}: {len(channels)} <channel> elements, RSS has exactly one"]
    channel = channels[0]

    def at(el: etree._Element) -> str:
        return f"{rel}:{el.sourceline}"

    for name in ("title", "link", "description"):
        found = channel.findall(name)
        if len(found) != 1:
            problems.append(f"{rel}: channel has {len(found)} <{name}>, needs exactly one")
        elif name != "description" and not (found[0].text or "").strip():
            problems.append(f"{at(found[0])}: channel <{name}> is empty")
    link = (channel.findtext("link") or "").strip()
    if not is_web_url(link):
        problems.append(f"{rel}: channel <link> {link!r} is not an absolute http(s) URL")
    elif link.endswith("/" + rel):
        problems.append(f"{rel}: channel <link> {link!r} is the feed itself (RSS 2.0: 'The "
                        f"URL to the HTML website corresponding to the channel')")
    selfs = [a for a in channel.findall(f"{ATOM}link") if a.get("rel") == "self"]
    if len(selfs) != 1:
        problems.append(f"{rel}: {len(selfs)} <atom:link rel=\"self\">, expected one "
                        f"(W3C: MissingAtomSelfLink)")
    elif not (selfs[0].get("href") or "").endswith("/" + rel):
        problems.append(f"{at(selfs[0])}: atom:link rel=self href {selfs[0].get('href')!r} "
                        f"is not this file (W3C: SelfDoesntMatchLocation)")
    elif selfs[0].get("type") not in (None, "application/rss+xml"):
        problems.append(f"{at(selfs[0])}: atom:link rel=self type {selfs[0].get('type')!r}")
    for name in ("lastBuildDate", "pubDate"):
        for el in channel.findall(name):
            if (why := rfc822_problem(el.text)):
                problems.append(f"{at(el)}: channel <{name}>: {why}")
    language = channel.findtext("language")
    if language is not None and not LANGUAGE_TAG.match(language.strip()):
        problems.append(f"{rel}: channel <language> {language!r} is no language tag")
    for name in ("managingEditor", "webMaster"):
        for el in channel.findall(name):
            if not EMAIL.search(el.text or ""):
                problems.append(f"{at(el)}: <{name}> without an email address "
                                f"(RSS 2.0: 'Email address for person ...')")
    for image in channel.findall("image"):
        for name in ("url", "title", "link"):
            if not (image.findtext(name) or "").strip():
                problems.append(f"{at(image)}: <image> without <{name}>")

    guids: Counter[str] = Counter()
    for n, item in enumerate(channel.findall("item"), 1):
        where = f"{at(item)}: item {n}"
        title, description = item.find("title"), item.find("description")
        if not ((title is not None and (title.text or "").strip())
                or (description is not None and (description.text or "").strip())):
            problems.append(f"{where}: neither a title nor a description (RSS 2.0: "
                            f"'at least one of title or description must be present')")
        if title is not None and MARKUP.search(title.text or ""):
            problems.append(f"{where}: <title> holds markup (W3C: ContainsHTML)")
        for el in item.findall("link"):
            if not is_web_url((el.text or "").strip()):
                problems.append(f"{at(el)}: item <link> {el.text!r} is not an absolute "
                                f"http(s) URL")
        for el in item.findall("guid"):
            text = (el.text or "").strip()
            guids[text] += 1
            permalink = el.get("isPermaLink", "true")
            if not text:
                problems.append(f"{at(el)}: empty <guid>")
            if permalink not in ("true", "false"):
                problems.append(f"{at(el)}: isPermaLink={permalink!r}, not true or false")
            elif permalink == "true" and not is_web_url(text):
                problems.append(f"{at(el)}: <guid> {text!r} is a permalink (isPermaLink "
                                f"absent or true) but not a URL (W3C: InvalidPermalink)")
        for el in item.findall("pubDate"):
            if (why := rfc822_problem(el.text)):
                problems.append(f"{at(el)}: item <pubDate>: {why}")
        for el in item.findall("category"):
            if not (el.text or "").strip():
                problems.append(f"{at(el)}: empty <category>")
        for el in item.findall("source"):
            if not is_web_url(el.get("url")):
                problems.append(f"{at(el)}: <source url={el.get('url')!r}>: the url attribute "
                                f"is required and must be an absolute http(s) URL")
            if not (el.text or "").strip():
                problems.append(f"{at(el)}: <source> without the name of its channel")
        for el in item.findall("author"):
            if not EMAIL.search(el.text or ""):
                problems.append(f"{at(el)}: <author> {el.text!r} without an email address "
                                f"(RSS 2.0: 'Email address of the author of the item')")
        for el in item.findall("enclosure"):
            if not is_web_url(el.get("url")) or not (el.get("length") or "").isdigit() or \
                    "/" not in (el.get("type") or ""):
                problems.append(f"{at(el)}: <enclosure> needs url, length and type")
        for el in [*item.findall("description"), *item.findall(CONTENT_ENCODED)]:
            name = etree.QName(el).localname
            problems += [f"{at(el)}: <{name}>: {p}" for p in html_problems(el.text)]
    problems += [f"{rel}: <guid> {g!r} appears {c} times (W3C: DuplicateItem)"
                 for g, c in guids.items() if c > 1]
    return problems


def test_rss_feeds_are_valid_rss_2_0(site: Site) -> None:
    problems = [p for path in site.rss for p in rss_problems(site, path)]
    report(problems, "RSS 2.0")


# -- Atom 1.0 -------------------------------------------------------------------------


def iri_problem(text: str | None) -> str | None:
    value = (text or "").strip()
    if not IRI.match(value):
        return f"{value!r} is not an absolute IRI (RFC 4287 §4.2.6)"
    if value.lower().startswith("urn:uuid:"):
        try:
            uuid.UUID(value[9:])
        except ValueError:
            return f"{value!r} is no valid urn:uuid"
    elif value.startswith(("http:", "https:")) and not is_web_url(value):
        return f"{value!r} is no valid http(s) IRI"
    return None


def atom_problems(site: Site, path: Path, formats: FormatChecker) -> list[str]:
    rel = site.rel(path)
    problems: list[str] = []
    tree = parse_xml(path, rel, problems)
    if tree is None:
        return problems
    feed = tree.getroot()
    if feed.tag != f"{ATOM}feed":
        return [*problems, f"{rel}: root is {feed.tag}, not atom:feed in {ATOM_NS}"]

    def at(el: etree._Element) -> str:
        return f"{rel}:{el.sourceline}"

    def date(el: etree._Element | None, what: str) -> None:
        if el is not None and not formats.conforms((el.text or "").strip(), "date-time"):
            problems.append(f"{at(el)}: {what} {el.text!r} is no RFC 3339 date-time "
                            f"(RFC 4287 §3.3)")

    def text_construct(el: etree._Element, what: str, content: bool = False) -> None:
        kind = el.get("type", "text")
        if kind == "html":
            problems.extend(f"{at(el)}: {what} type=html: {p}" for p in html_problems(el.text))
        elif kind == "xhtml":
            divs = [c for c in el if isinstance(c.tag, str)]
            if len(divs) != 1 or divs[0].tag != f"{{{XHTML_NS}}}div":
                problems.append(f"{at(el)}: {what} type=xhtml needs one xhtml:div child")
        elif kind != "text" and not (content and "/" in kind):
            problems.append(f"{at(el)}: {what} type={kind!r}, not text, html or xhtml")

    def links(parent: etree._Element, what: str) -> list[etree._Element]:
        found = parent.findall(f"{ATOM}link")
        alternates: Counter[tuple[str | None, str | None]] = Counter()
        for link in found:
            if not link.get("href"):
                problems.append(f"{at(link)}: {what} atom:link without href (RFC 4287 §4.2.7)")
            if link.get("rel", "alternate") == "alternate":
                alternates[(link.get("type"), link.get("hreflang"))] += 1
        if any(n > 1 for n in alternates.values()):
            problems.append(f"{at(parent)}: {what} has two rel=alternate links of one type "
                            f"and hreflang (RFC 4287 §4.1.1)")
        return found

    def authors(parent: etree._Element, what: str) -> list[etree._Element]:
        found = parent.findall(f"{ATOM}author")
        for author in found:
            names = author.findall(f"{ATOM}name")
            if len(names) != 1 or not (names[0].text or "").strip():
                problems.append(f"{at(author)}: {what} atom:author needs exactly one "
                                f"non-empty atom:name (RFC 4287 §3.2)")
        return found

    def categories(parent: etree._Element) -> None:
        for cat in parent.findall(f"{ATOM}category"):
            if not (cat.get("term") or "").strip():
                problems.append(f"{at(cat)}: atom:category without term (RFC 4287 §4.2.2)")

    for name in ATOM_FEED_ONCE:
        count = len(feed.findall(f"{ATOM}{name}"))
        if count > 1 or (count == 0 and name in ("id", "title", "updated")):
            problems.append(f"{rel}: atom:feed has {count} atom:{name} (RFC 4287 §4.1.1)")
    feed_id = feed.findtext(f"{ATOM}id")
    if feed_id is not None and (why := iri_problem(feed_id)):
        problems.append(f"{rel}: feed atom:id: {why}")
    date(feed.find(f"{ATOM}updated"), "feed atom:updated")
    for name in ("title", "subtitle", "rights"):
        for el in feed.findall(f"{ATOM}{name}"):
            text_construct(el, f"feed atom:{name}")
    feed_links = links(feed, "feed")
    selfs = [x for x in feed_links if x.get("rel") == "self"]
    if len(selfs) != 1:
        problems.append(f"{rel}: {len(selfs)} atom:link rel=self, expected one "
                        f"(RFC 4287 §4.1.1 SHOULD; W3C: MissingSelf)")
    elif not (selfs[0].get("href") or "").endswith("/" + rel):
        problems.append(f"{at(selfs[0])}: link rel=self href {selfs[0].get('href')!r} is not "
                        f"this file (W3C: SelfDoesntMatchLocation)")
    feed_has_author = bool(authors(feed, "feed"))
    categories(feed)

    ids: Counter[str] = Counter()
    for n, entry in enumerate(feed.findall(f"{ATOM}entry"), 1):
        where = f"{at(entry)}: entry {n}"
        for name in ATOM_ENTRY_ONCE:
            count = len(entry.findall(f"{ATOM}{name}"))
            if count > 1 or (count == 0 and name in ("id", "title", "updated")):
                problems.append(f"{where}: {count} atom:{name} (RFC 4287 §4.1.2)")
        entry_id = entry.findtext(f"{ATOM}id")
        if entry_id is not None:
            ids[entry_id.strip()] += 1
            if (why := iri_problem(entry_id)):
                problems.append(f"{where}: atom:id: {why}")
        date(entry.find(f"{ATOM}updated"), "atom:updated")
        date(entry.find(f"{ATOM}published"), "atom:published")
        for name in ("title", "summary", "rights"):
            for el in entry.findall(f"{ATOM}{name}"):
                text_construct(el, f"atom:{name}")
        content = entry.find(f"{ATOM}content")
        if content is not None:
            if content.get("src"):
                if (content.text or "").strip() or len(content):
                    problems.append(f"{at(content)}: atom:content with src must be empty")
                if entry.find(f"{ATOM}summary") is None:
                    problems.append(f"{where}: atom:content src= needs an atom:summary")
            else:
                text_construct(content, "atom:content", content=True)
        entry_links = links(entry, "entry")
        has_alternate = any(x.get("rel", "alternate") == "alternate" for x in entry_links)
        if content is None and not has_alternate:
            problems.append(f"{where}: neither atom:content nor a link rel=alternate "
                            f"(RFC 4287 §4.1.1)")
        source = entry.find(f"{ATOM}source")
        source_has_author = False
        if source is not None:
            for child in source:
                if isinstance(child.tag, str) and child.tag.startswith(ATOM) and \
                        etree.QName(child).localname not in ATOM_SOURCE_CHILDREN:
                    problems.append(f"{at(child)}: atom:{etree.QName(child).localname} is "
                                    f"not allowed in atom:source (RFC 4287 §4.2.11)")
            for name in ("id", "title", "updated", "subtitle", "generator", "icon", "logo",
                         "rights"):
                if len(source.findall(f"{ATOM}{name}")) > 1:
                    problems.append(f"{at(source)}: atom:source has several atom:{name}")
            if not (source.findtext(f"{ATOM}title") or "").strip():
                problems.append(f"{at(source)}: atom:source without atom:title")
            if source.find(f"{ATOM}id") is not None and \
                    (why := iri_problem(source.findtext(f"{ATOM}id"))):
                problems.append(f"{at(source)}: atom:source atom:id: {why}")
            date(source.find(f"{ATOM}updated"), "atom:source atom:updated")
            source_links = links(source, "atom:source")
            if not any(is_web_url(x.get("href")) for x in source_links):
                problems.append(f"{at(source)}: atom:source without an absolute atom:link")
            source_has_author = bool(authors(source, "atom:source"))
            categories(source)
        if not (authors(entry, "entry") or source_has_author or feed_has_author):
            problems.append(f"{where}: no atom:author in the entry, its source or the feed "
                            f"(RFC 4287 §4.1.2)")
        categories(entry)
    problems += [f"{rel}: atom:id {i!r} appears {c} times (RFC 4287 §4.2.6: ids are unique)"
                 for i, c in ids.items() if c > 1]
    return problems


def test_atom_feeds_are_valid_atom_1_0(site: Site, formats: FormatChecker) -> None:
    problems = [p for path in site.atom for p in atom_problems(site, path, formats)]
    report(problems, "Atom 1.0")


# -- HTML5 ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vnu_messages(site: Site) -> list[vnu.VnuMessage]:
    """One Nu Html Checker run over every page (skips without the checker)."""
    return vnu.check_html(site.pages)


def test_html_pages_pass_the_nu_html_checker(site: Site,
                                              vnu_messages: list[vnu.VnuMessage]) -> None:
    problems = [m.format(site.root) for m in vnu_messages]
    report(problems, f"Nu Html Checker (over {len(site.pages)} pages)")


def test_html_time_datetime_is_valid(site: Site) -> None:
    problems = []
    for page in site.pages:
        tree = lxml.html.parse(str(page))
        for time in tree.iter("time"):
            value = time.get("datetime")
            if value is None:
                continue
            if not (HTML_GLOBAL_DATETIME.match(value) or HTML_OTHER_DATETIME.match(value)):
                problems.append(f"{site.rel(page)}:{time.sourceline}: <time datetime="
                                f"{value!r}> is no valid HTML date/time string")
    report(problems, "HTML <time datetime>")


# -- parsing back ---------------------------------------------------------------------


def test_every_feed_parses_back(site: Site) -> None:
    """feedparser reads every RSS and Atom feed without complaint; json every JSON Feed.

    (feedparser 6.0 does not read JSON Feed, hence json for those.)
    """
    problems = []
    for path, kind in [*((p, "rss20") for p in site.rss), *((p, "atom10") for p in site.atom)]:
        rel = site.rel(path)
        parsed = feedparser.parse(path.read_bytes())
        if parsed.bozo:
            problems.append(f"{rel}: feedparser: bozo: {parsed.get('bozo_exception')!r}")
        if parsed.version != kind:
            problems.append(f"{rel}: feedparser takes it for {parsed.version!r}, not {kind}")
        tree = etree.parse(str(path))
        count = len(tree.findall("channel/item") if kind == "rss20"
                    else tree.findall(f"{ATOM}entry"))
        if len(parsed.entries) != count:
            problems.append(f"{rel}: feedparser read {len(parsed.entries)} of {count} entries")
        for n, entry in enumerate(parsed.entries, 1):
            if not entry.get("title") or not entry.get("id"):
                problems.append(f"{rel}: feedparser entry {n} has no title or id")
    for path in site.json_feeds:
        try:
            doc = json.loads(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            problems.append(f"{site.rel(path)}: not UTF-8 JSON: {e}")
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
            problems.append(f"{site.rel(path)}: not a JSON Feed object with items")
    report(problems, "parse-back")


def test_json_feed_summaries_are_plain_text(site: Site) -> None:
    """JSON Feed 1.1: ``summary`` is plain text (``content_html`` carries the markup)."""
    found = 0
    for path in site.json_feeds:
        for item in site.load_json(path)["items"]:
            if "summary" in item:
                found += 1
                assert not re.search(r"</?[a-zA-Z][^>]*>", item["summary"]), (path, item["id"])
    assert found, "no summary in any JSON feed: the check checked nothing"
