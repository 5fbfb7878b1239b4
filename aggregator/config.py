"""Load ``config.toml`` and ``feeds/*.toml`` once, into frozen dataclasses.

Every key is optional and has a default documented in the shipped ``config.toml``.
Relative paths are resolved against the folder of the config file, never the working
directory. A wrong key, type or value raises :class:`ConfigError` naming the file,
the key and what was expected; the command line prints that one line and exits 2.
"""

from __future__ import annotations

import difflib
import glob
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from aggregator.errors import ConfigError
from aggregator.models import SelectRules, SourceDef, SourceKind

DEFAULT_CONFIG = "config.toml"
CONFIG_ENV = "AGGREGATOR_CONFIG"
DATABASE_ENV = "AGGREGATOR_DATABASE_URL"
DEFAULT_USER_AGENT = (
    "smuggling-news-aggregator/0.1 (+https://github.com/smuggling-news/aggregator)"
)
SOURCE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TAG_RE = re.compile(r"^(?:[a-z][a-z0-9-]*:)?[a-z0-9][a-z0-9._-]*$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class SiteConfig:
    title: str = "Migrant smuggling news"
    url: str = "http://127.0.0.1:8080/"
    description: str = (
        "News, publications and meetings on the smuggling of migrants, merged from "
        "UNODC, UN News, ReliefWeb, Europol and others."
    )
    language: str = "en"
    templates: Path | None = None


@dataclass(frozen=True)
class StorageConfig:
    url: str = "sqlite:///var/aggregator.db"
    data_dir: Path = Path("var")
    #: stories older than this many days are pruned (pinned ones kept); 0: never
    retention_days: int = 730


@dataclass(frozen=True)
class SourcesConfig:
    paths: tuple[str, ...] = ("feeds/*.toml",)
    host_aliases: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class FetchConfig:
    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = 20.0
    connect_timeout: float = 10.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    interval: float = 3600.0
    min_interval: float = 900.0
    max_backoff: float = 86400.0
    concurrency: int = 16
    per_host_concurrency: int = 2
    per_host_delay: float = 0.0
    max_items_per_fetch: int = 1000
    allow_private: bool = False
    #: processes that parse, normalize and analyze feeds beside the fetching one (0: none;
    #: "auto": one per core, up to 4, for a poll of at least AUTO_POOL_MIN feeds)
    parse_processes: int | Literal["auto"] = "auto"


@dataclass(frozen=True)
class OutputConfig:
    dir: Path = Path("output")
    items: int = 100
    max_age_days: int | None = None
    archive_pages: int = 10
    #: a WebSub hub to announce feed changes to (none by default)
    websub_hub: str | None = None


@dataclass(frozen=True)
class DedupeConfig:
    #: copies further apart in time than this are never near-duplicates
    window: float = 7 * 86400.0
    #: false: only exact matches (same canonical URL or same content) join stories
    near_duplicates: bool = True


@dataclass(frozen=True)
class DigestConfig:
    #: the digest's name: in its subject, heading and List-Id
    title: str = "Migrant smuggling digest"
    weekday: str = "monday"
    time: str = "08:00"
    timezone: str = "UTC"
    sections: tuple[str, ...] = ()
    approval: bool = False
    send_empty: bool = False
    #: stories in one digest at most (the newest); the rest are a link to the site
    max_stories: int = 60
    #: meetings starting within this many days are listed as upcoming
    meetings_days: int = 90
    #: how long a sender holds a claimed delivery before another may take it over
    lease: float = 300.0


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 25
    security: str = "none"
    username_env: str | None = None
    password_env: str | None = None
    rate: float = 0.0
    #: connections used at once by one `digest send` (each sends its own share)
    connections: int = 2
    timeout: float = 30.0
    #: a 4xx answer is retried this many times, waiting retry_delay, then twice that, ...
    retries: int = 3
    retry_delay: float = 2.0


@dataclass(frozen=True)
class EmailConfig:
    transport: str = "file"
    sender: str = "Migrant smuggling news <digest@localhost>"
    outbox: Path = Path("var/outbox")
    #: the mailto: of List-Unsubscribe (default: the from address)
    unsubscribe_address: str | None = None
    #: refusals (5xx at RCPT) in a row before a subscriber is marked bouncing
    bounce_limit: int = 3
    smtp: SmtpConfig = field(default_factory=SmtpConfig)


@dataclass(frozen=True)
class WorkerConfig:
    #: how often the worker looks for sources that are due
    tick: float = 30.0
    #: a publish waits this long after the last change (a burst of polls makes one)
    publish_delay: float = 10.0
    #: a worker that was down at the digest's time still sends it this long after
    digest_grace: float = 6 * 3600.0


@dataclass(frozen=True)
class WebConfig:
    secret_env: str = "AGGREGATOR_SECRET_KEY"
    #: the public base URL of `aggregator serve` (subscription pages); default [site] url
    url: str | None = None


@dataclass(frozen=True)
class Config:
    path: Path
    site: SiteConfig = field(default_factory=SiteConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    #: ``[tags.<name>]`` rule tables, kept as given (the tagging stage validates them)
    tags: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    dedupe: DedupeConfig = field(default_factory=DedupeConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    web: WebConfig = field(default_factory=WebConfig)
    worker: WorkerConfig = field(default_factory=WorkerConfig)

    @property
    def root(self) -> Path:
        """The folder relative paths are resolved against."""
        return self.path.parent

    @property
    def web_url(self) -> str:
        """Where the subscription pages are: ``[web] url``, else ``[site] url``."""
        return self.web.url or self.site.url


# -- value parsers ----------------------------------------------------------------------

T = TypeVar("T")

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*$", re.I)
_SIZE_UNITS = {
    "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3,
}


def _whole(minimum: int) -> Callable[[object], int]:
    """A converter to a whole number of at least ``minimum`` (TOML's bools are not)."""
    def convert(v: object) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError
        if v < minimum:
            raise ValueError(f"a whole number of at least {minimum}")
        return v

    return convert


_PROCESSES = 'a whole number of at least 0, or "auto"'


def _processes(value: object) -> int | Literal["auto"]:
    """``[fetch] parse_processes``: a count, or "auto"."""
    try:
        return "auto" if value == "auto" else _whole(0)(value)
    except ValueError:
        raise ValueError(_PROCESSES) from None


def parse_duration(value: object) -> float:
    """``"1h"``, ``"15m"``, ``"1h30m"``, ``"90s"`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration such as \"1h\" or \"15m\"")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration that is not negative")
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        pos, total = 0, 0.0
        for m in _DURATION_RE.finditer(text):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
            pos = m.end()
        if text and pos == len(text):
            return total
    raise ValueError('a duration such as "1h", "15m" or "1h30m"')


def parse_size(value: object) -> int:
    """``10485760``, ``"10 MiB"``, ``"500kB"``."""
    if isinstance(value, bool):
        raise ValueError('a size such as 10485760 or "10 MiB"')
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and (m := _SIZE_RE.match(value)):
        unit = (m.group(2) or "b").lower()
        size = int(float(m.group(1)) * _SIZE_UNITS[unit])
        if size > 0:
            return size
    raise ValueError('a positive size such as 10485760 or "10 MiB"')


# -- the section reader -----------------------------------------------------------------


def _describe(value: object) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) < 60 else repr(value[:57] + "...")
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


class _Table:
    """Reads typed keys from one TOML table and reports the first wrong one."""

    def __init__(self, path: Path | str, name: str, data: object) -> None:
        self.path = path
        self.name = name
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(path, name, f"expected a table, got {_describe(data)}")
        self.data: dict[str, Any] = data
        self.seen: set[str] = set()

    def key(self, key: str) -> str:
        return f"{self.name} {key}" if self.name else key

    def fail(self, key: str, expected: str, value: object) -> ConfigError:
        return ConfigError(self.path, self.key(key), f"expected {expected}, got {_describe(value)}")

    def get(self, key: str, default: T, convert: Callable[[Any], T], expected: str) -> T:
        self.seen.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        try:
            return convert(value)
        except (ValueError, TypeError) as e:
            message = str(e) if str(e).startswith(("a ", "an ", "one of")) else expected
            raise self.fail(key, message, value) from e

    def text(self, key: str, default: Any, *, choices: tuple[str, ...] = ()) -> Any:
        def convert(v: object) -> str:
            if not isinstance(v, str):
                raise TypeError
            if choices and v not in choices:
                raise ValueError("one of " + ", ".join(f'"{c}"' for c in choices))
            return v

        expected = "one of " + ", ".join(f'"{c}"' for c in choices) if choices else "a string"
        return self.get(key, default, convert, expected)

    def boolean(self, key: str, default: bool) -> bool:
        def convert(v: object) -> bool:
            if not isinstance(v, bool):
                raise TypeError
            return v

        return self.get(key, default, convert, "true or false")

    def integer(self, key: str, default: Any, *, minimum: int = 0) -> Any:
        return self.get(key, default, _whole(minimum), f"a whole number of at least {minimum}")

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        def convert(v: object) -> float:
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise TypeError
            if v < minimum:
                raise ValueError(f"a number of at least {minimum:g}")
            return float(v)

        return self.get(key, default, convert, "a number")

    def duration(self, key: str, default: Any) -> Any:
        return self.get(key, default, parse_duration, 'a duration such as "1h" or "15m"')

    def str_list(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        def convert(v: object) -> tuple[str, ...]:
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise TypeError
            return tuple(v)

        return self.get(key, default, convert, "a list of strings")

    def table(self, key: str) -> _Table:
        self.seen.add(key)
        return _Table(self.path, f"[{self._dotted(key)}]", self.data.get(key))

    def _dotted(self, key: str) -> str:
        inner = self.name.strip("[]")
        return f"{inner}.{key}" if inner else key

    def finish(self) -> None:
        """Refuse keys nobody asked for: a typo must not pass silently."""
        for key in self.data:
            if key not in self.seen:
                hint = difflib.get_close_matches(key, sorted(self.seen), n=1)
                also = f" (did you mean {hint[0]!r}?)" if hint else ""
                known = ", ".join(sorted(self.seen))
                raise ConfigError(
                    self.path, self.key(key), f"unknown key{also}; known keys: {known}"
                )


def _resolve(root: Path, value: str | Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (root / path)


def resolve_database_url(url: str, root: Path) -> str:
    """Make a relative SQLite path absolute against the config folder."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rest = url[len("sqlite:///"):]
        if rest and rest != ":memory:" and not rest.startswith(":"):
            return "sqlite:///" + str(_resolve(root, rest))
    return url


def _timezone(v: object) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(v, str):
        raise TypeError
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError('an IANA time zone such as "Europe/Vienna"') from e
    return v


def _one_line(v: object) -> str:
    """Text that may go into a mail header: one line, no control characters."""
    if not isinstance(v, str) or not v.strip() or any(ord(c) < 32 or ord(c) == 127 for c in v):
        raise TypeError
    return v


def _mailbox(v: object) -> str:
    """``Name <addr@host>`` or ``addr@host``, one line, with an @ and a domain."""
    from email.utils import parseaddr

    if not isinstance(v, str) or "\r" in v or "\n" in v:
        raise TypeError
    _name, addr = parseaddr(v)
    local, _, domain = addr.rpartition("@")
    if not local or not domain or " " in addr:
        raise ValueError
    return v


def _base_url(v: object) -> str:
    """An http(s) URL, with a trailing slash so relative paths join under it."""
    url = _http_url(v)
    return url if url.endswith("/") else url + "/"


def _http_url(v: object) -> str:
    if not isinstance(v, str):
        raise TypeError
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("an http:// or https:// URL")
    return v


# -- the config file --------------------------------------------------------------------


def find_config_path(given: str | os.PathLike[str] | None) -> Path:
    return Path(given or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the config file; raise ConfigError on the first problem."""
    cfg_path = find_config_path(path)
    try:
        raw = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(
            cfg_path, None, "no such config file (give --config PATH or set $AGGREGATOR_CONFIG)"
        ) from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(cfg_path, None, f"cannot read it: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(cfg_path, None, f"not valid TOML: {e}") from e
    return config_from_dict(raw, cfg_path.resolve())


def config_from_dict(raw: dict[str, Any], path: Path) -> Config:
    root = path.parent
    top = _Table(path, "", raw)

    t = top.table("site")
    site = SiteConfig(
        title=t.text("title", SiteConfig.title),
        url=t.get("url", SiteConfig.url, _http_url, "an http:// or https:// URL"),
        description=t.text("description", SiteConfig.description),
        language=t.text("language", SiteConfig.language),
        templates=(lambda v: _resolve(root, v) if v else None)(t.text("templates", None)),
    )
    if not site.url.endswith("/"):
        site = SiteConfig(site.title, site.url + "/", site.description, site.language,
                          site.templates)
    t.finish()

    t = top.table("storage")
    data_dir = _resolve(root, t.text("data_dir", "var"))
    url = os.environ.get(DATABASE_ENV) or t.text("url", "sqlite:///var/aggregator.db")
    if "://" not in url:
        raise ConfigError(path, "[storage] url", f"expected a database URL such as "
                          f"sqlite:///var/aggregator.db, got {_describe(url)}")
    storage = StorageConfig(url=resolve_database_url(url, root), data_dir=data_dir,
                            retention_days=t.integer("retention_days",
                                                     StorageConfig.retention_days))
    t.finish()

    t = top.table("sources")

    def aliases(v: object) -> tuple[tuple[str, ...], ...]:
        if not isinstance(v, list) or not all(
            isinstance(g, list) and all(isinstance(h, str) for h in g) for g in v
        ):
            raise TypeError
        return tuple(tuple(h.lower() for h in g) for g in v)

    sources = SourcesConfig(
        paths=t.str_list("paths", SourcesConfig.paths),
        host_aliases=t.get("host_aliases", (), aliases,
                           'a list of lists of host names, e.g. [["www.unodc.org", "unodc.org"]]'),
    )
    t.finish()

    t = top.table("fetch")
    fetch = FetchConfig(
        user_agent=t.text("user_agent", DEFAULT_USER_AGENT),
        timeout=t.duration("timeout", FetchConfig.timeout),
        connect_timeout=t.duration("connect_timeout", FetchConfig.connect_timeout),
        max_bytes=t.get("max_bytes", FetchConfig.max_bytes, parse_size,
                        'a size such as 10485760 or "10 MiB"'),
        max_redirects=t.integer("max_redirects", FetchConfig.max_redirects),
        interval=t.duration("interval", FetchConfig.interval),
        min_interval=t.duration("min_interval", FetchConfig.min_interval),
        max_backoff=t.duration("max_backoff", FetchConfig.max_backoff),
        concurrency=t.integer("concurrency", FetchConfig.concurrency, minimum=1),
        per_host_concurrency=t.integer("per_host_concurrency", FetchConfig.per_host_concurrency,
                                   minimum=1),
        per_host_delay=t.duration("per_host_delay", FetchConfig.per_host_delay),
        max_items_per_fetch=t.integer("max_items_per_fetch", FetchConfig.max_items_per_fetch,
                                  minimum=1),
        allow_private=t.boolean("allow_private", False),
        parse_processes=t.get("parse_processes", FetchConfig.parse_processes, _processes,
                              _PROCESSES),
    )
    if fetch.timeout <= 0:
        raise ConfigError(path, "[fetch] timeout", "expected a duration above zero, got 0")
    t.finish()

    t = top.table("output")
    output = OutputConfig(
        dir=_resolve(root, t.text("dir", "output")),
        items=t.integer("items", OutputConfig.items, minimum=1),
        max_age_days=t.integer("max_age_days", None, minimum=1),
        archive_pages=t.integer("archive_pages", OutputConfig.archive_pages, minimum=1),
        websub_hub=t.get("websub_hub", None, _http_url, "an http:// or https:// URL"),
    )
    t.finish()

    t = top.table("tags")
    tags: dict[str, Mapping[str, Any]] = {}
    for name in t.data:
        tags[name] = t.table(name).data
    t.finish()

    t = top.table("dedupe")
    dedupe = DedupeConfig(
        window=t.duration("window", DedupeConfig.window),
        near_duplicates=t.boolean("near_duplicates", True),
    )
    t.finish()

    t = top.table("digest")

    def clock(v: object) -> str:
        if not isinstance(v, str) or not re.fullmatch(
                r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?", v):
            raise ValueError("a time of day such as \"08:00\"")
        return v

    digest = DigestConfig(
        title=t.get("title", DigestConfig.title, _one_line, "one line of text"),
        weekday=t.text("weekday", "monday", choices=WEEKDAYS),
        time=t.get("time", "08:00", clock, 'a time of day such as "08:00"'),
        timezone=t.get("timezone", "UTC", _timezone, 'an IANA time zone such as "Europe/Vienna"'),
        sections=t.str_list("sections", ()),
        approval=t.boolean("approval", False),
        send_empty=t.boolean("send_empty", False),
        max_stories=t.integer("max_stories", DigestConfig.max_stories, minimum=1),
        meetings_days=t.integer("meetings_days", DigestConfig.meetings_days, minimum=0),
        lease=t.duration("lease", DigestConfig.lease),
    )
    if digest.lease <= 0:
        raise ConfigError(path, "[digest] lease", "expected a duration above zero, got 0")
    t.finish()

    t = top.table("email")
    s = t.table("smtp")
    smtp = SmtpConfig(
        host=s.text("host", "localhost"),
        port=s.integer("port", 25, minimum=1),
        security=s.text("security", "none", choices=("none", "starttls", "tls")),
        username_env=s.text("username_env", None),
        password_env=s.text("password_env", None),
        rate=s.number("rate", 0.0),
        connections=s.integer("connections", SmtpConfig.connections, minimum=1),
        timeout=s.duration("timeout", SmtpConfig.timeout),
        retries=s.integer("retries", SmtpConfig.retries),
        retry_delay=s.duration("retry_delay", SmtpConfig.retry_delay),
    )
    s.finish()
    email = EmailConfig(
        transport=t.text("transport", "file", choices=("file", "smtp")),
        sender=t.get("from", EmailConfig.sender, _mailbox,
                      'an address such as "News <digest@example.org>"'),
        outbox=_resolve(root, t.text("outbox", "var/outbox")),
        unsubscribe_address=t.get("unsubscribe_address", None, _mailbox, "an email address"),
        bounce_limit=t.integer("bounce_limit", EmailConfig.bounce_limit, minimum=1),
        smtp=smtp,
    )
    t.finish()

    t = top.table("web")
    web = WebConfig(secret_env=t.text("secret_env", WebConfig.secret_env),
                    url=t.get("url", None, _base_url, "an http:// or https:// URL"))
    t.finish()

    t = top.table("worker")
    worker = WorkerConfig(
        tick=t.duration("tick", WorkerConfig.tick),
        publish_delay=t.duration("publish_delay", WorkerConfig.publish_delay),
        digest_grace=t.duration("digest_grace", WorkerConfig.digest_grace),
    )
    if worker.tick <= 0:
        raise ConfigError(path, "[worker] tick", "expected a duration above zero, got 0")
    t.finish()

    top.finish()
    return Config(path=path, site=site, storage=storage, sources=sources, fetch=fetch,
                  output=output, tags=tags, dedupe=dedupe, digest=digest, email=email, web=web,
                  worker=worker)


# -- source files -----------------------------------------------------------------------


def source_files(config: Config) -> list[Path]:
    """The files ``[sources] paths`` names; a pattern that matches nothing is an error."""
    files: list[Path] = []
    for pattern in config.sources.paths:
        full = str(_resolve(config.root, pattern))
        matches = sorted(glob.glob(full)) if glob.has_magic(full) else [full]
        matches = [m for m in matches if Path(m).is_file()]
        if not matches:
            raise ConfigError(
                config.path, "[sources] paths",
                f"no source file matches {pattern!r} (looked in {config.root})",
            )
        files.extend(Path(m) for m in matches)
    return files


def load_sources(config: Config) -> list[SourceDef]:
    """Every source of every source file, validated; ids must be unique."""
    seen: dict[str, Path] = {}
    out: list[SourceDef] = []
    for file in source_files(config):
        for src in _read_source_file(file, config.root):
            if src.id in seen:
                raise ConfigError(file, f"source {src.id!r}",
                                  f"id already defined in {seen[src.id]}")
            seen[src.id] = file
            out.append(src)
    return out


def _read_source_file(file: Path, root: Path) -> Iterator[SourceDef]:
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(file, None, f"cannot read it: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(file, None, f"not valid TOML: {e}") from e
    top = _Table(file, "", raw)
    entries: list[Any] = top.get("source", [], lambda v: v if isinstance(v, list) else _bad(),
                      "a list of [[source]] tables")
    top.finish()
    try:
        origin = str(file.relative_to(root))
    except ValueError:
        origin = str(file)
    for n, entry in enumerate(entries, 1):
        yield source_from_dict(entry, file, f"[[source]] #{n}", origin)


def _bad() -> Any:
    raise TypeError


def source_from_dict(entry: object, file: Path | str, name: str, origin: str) -> SourceDef:
    t = _Table(file, name, entry)
    sid = t.get("id", None, _source_id, "an id of lower-case letters, digits, '.', '_' or '-'")
    if sid is None:
        raise ConfigError(file, t.key("id"), "missing; every source needs an id")
    t.name = f"source {sid!r}"
    url = t.get("url", None, _http_url, "an http:// or https:// URL")
    if url is None:
        raise ConfigError(file, t.key("url"), "missing; every source needs a url")
    kind = SourceKind(t.text("kind", "feed", choices=("feed", "html")))

    def tag_list(v: object) -> tuple[str, ...]:
        if not isinstance(v, list) or not all(isinstance(x, str) and TAG_RE.match(x) for x in v):
            raise ValueError('a list of tags such as ["org:unodc", "migrant-smuggling"]')
        return tuple(v)

    no_tags: tuple[str, ...] = ()
    tags = t.get("tags", no_tags, tag_list, 'a list of tags such as ["org:unodc"]')
    interval = t.duration("interval", None)
    priority = t.integer("priority", 0, minimum=-1000)
    select = None
    if "select" in t.data or kind is SourceKind.HTML:
        s = t.table("select")
        s.name = f"source {sid!r} select"
        missing = [k for k in ("item", "title", "link") if k not in s.data]
        if kind is SourceKind.HTML and missing:
            raise ConfigError(file, s.key(missing[0]),
                              "missing; an html source needs item, title and link selectors")
        select = SelectRules(
            item=s.text("item", ""),
            title=s.text("title", ""),
            link=s.text("link", ""),
            date=s.text("date", None),
            summary=s.text("summary", None),
            content=s.text("content", None),
            next=s.text("next", None),
            max_pages=s.integer("max_pages", 1, minimum=1),
            follow=s.boolean("follow", False),
            max_follow=s.integer("max_follow", 50, minimum=0),
        )
        for key in ("item", "title", "link", "date", "summary", "content", "next"):
            _check_selector(file, s.key(key), getattr(select, key))
        s.finish()
    title = t.text("title", "")
    t.finish()
    return SourceDef(id=sid, url=url, kind=kind, title=title, tags=tags, interval=interval,
                     priority=priority, select=select, origin=origin)


def _source_id(v: object) -> str:
    if not isinstance(v, str) or not SOURCE_ID_RE.match(v):
        raise ValueError("an id of lower-case letters, digits, '.', '_' or '-' (at most 64)")
    return v


def _check_selector(file: Path | str, key: str, selector: str | None) -> None:
    if not selector:
        return
    from cssselect import GenericTranslator, SelectorError

    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError as e:
        raise ConfigError(file, key, f"expected a CSS selector, got {selector!r} ({e})") from e
