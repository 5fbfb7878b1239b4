"""Checking addresses and topic filters, and reading a CSV of subscribers (pure)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aggregator.errors import UsageError

#: a tag as the rules and the sources write them: ``migrant-smuggling``, ``country:eg``
_TAG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*(:[a-z0-9][a-z0-9._-]*)?$")


class InvalidAddress(UsageError):
    pass


def normalize_email(address: str) -> str:
    """The address as it will be stored and used, or :class:`InvalidAddress` saying why.

    email-validator checks the syntax (no DNS lookups: they would make adding a
    subscriber depend on the network); internationalized local parts are refused
    because they need SMTPUTF8, which many servers lack.
    """
    from email_validator import EmailNotValidError, validate_email

    text = address.strip()
    if not text:
        raise InvalidAddress("an email address is required")
    if any(c in text for c in "\r\n\0"):
        raise InvalidAddress(f"{text!r} is not an email address")
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as e:
        raise InvalidAddress(f"{text!r} is not a valid email address: {e}") from e
    return str(result.ascii_email or result.normalized)


def normalize_tags(tags: Sequence[str] | str) -> tuple[str, ...]:
    """Topic filters from ``"a,b"`` or a list: lower-cased, checked, each once, sorted."""
    items = re.split(r"[,;\s]+", tags) if isinstance(tags, str) else list(tags)
    out: set[str] = set()
    for raw in items:
        tag = raw.strip().lower()
        if not tag:
            continue
        if not _TAG_RE.match(tag) or len(tag) > 96:
            raise UsageError(f"{raw!r} is not a tag (tags look like migrant-smuggling "
                             "or country:eg)")
        out.add(tag)
    return tuple(sorted(out))


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int
    email: str
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CsvProblem:
    line: int
    message: str


def read_csv(data: bytes, *, name: str = "CSV") -> tuple[list[CsvRow], list[CsvProblem]]:
    """Rows of a subscriber CSV (columns ``email`` and optional ``tags``), and bad rows.

    The header names the columns (any letter case, any order); tags within a cell
    are separated by commas, semicolons or spaces. A bad row is reported with its
    line and skipped; the good rows are all kept.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UsageError(f"{name}: not UTF-8 text (byte {e.start})") from e
    # the header says which separator the file uses (spreadsheets in many locales
    # write semicolons); a one-column file has none
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count) if any(
        d in first for d in ",;\t") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise UsageError(f"{name}: empty file; expected a header with an email column") \
            from None
    columns = [h.strip().lower() for h in header]
    if "email" not in columns:
        raise UsageError(f"{name}: line 1: no email column in the header "
                         f"(found: {', '.join(repr(c) for c in columns) or 'nothing'})")
    at_email = columns.index("email")
    at_tags = columns.index("tags") if "tags" in columns else None
    rows: list[CsvRow] = []
    problems: list[CsvProblem] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        try:
            address = normalize_email(row[at_email] if at_email < len(row) else "")
            tags = normalize_tags(row[at_tags]) if at_tags is not None and at_tags < len(row) \
                else ()
        except UsageError as e:
            problems.append(CsvProblem(line, str(e)))
            continue
        if address.lower() in seen:
            problems.append(CsvProblem(line, f"{address} appears again (kept the first)"))
            continue
        seen.add(address.lower())
        rows.append(CsvRow(line, address, tags))
    return rows, problems
