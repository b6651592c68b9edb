"""Parsers for structured abstract files: JSONL, CSV (arXiv-metadata style) and BibTeX."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

import bibtexparser

from rag.corpus.records import Entry, ParseResult, Skip, clean_text, split_lines

_DATE_FIELDS = ("update_date", "date", "published", "year")
_ISO = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


def _kind(value: Any) -> str:
    """How a JSON value that should have been text reads in a skip reason."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _scalar(value: Any) -> str | None:
    """Text of an optional scalar field (id, date); lists, objects and booleans are ignored."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return clean_text(str(value)) or None


def _authors(value: Any) -> tuple[str | None, int | None]:
    if value is None or value == "":
        return None, None
    if isinstance(value, list):  # a list of names; nested lists or objects are not names
        names = [clean_text(v) for v in value if isinstance(v, str) and v.strip()]
    elif isinstance(value, str):
        # arXiv metadata and BibTeX separate names with "and" or commas
        names = [n for n in re.split(r"\s+and\s+|,\s*(?=[A-Z])|;", clean_text(value)) if n.strip()]
    else:
        return None, None
    return ", ".join(names) or None, len(names) or None


def _date(record: Mapping[str, Any]) -> tuple[str | None, str | None]:
    for key in _DATE_FIELDS:
        text = _scalar(record.get(key))
        if text is None:
            continue
        m = _ISO.match(text)
        if not m:
            return None, text
        try:
            iso = date(int(m[1]), int(m[2] or 1), int(m[3] or 1)).isoformat()
        except ValueError:  # 2024-13-45, year 0: keep it as written only
            return None, text
        return iso, text
    return None, None


def entry_from_record(record: Mapping[str, Any], source: str, line: int) -> Entry | Skip:
    """Build an Entry from a title/abstract mapping, or say why it cannot be used."""
    for key in ("title", "abstract"):
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            return Skip(source, line, f"'{key}' is not text ({_kind(value)})")
    title = clean_text(record.get("title") or "")
    abstract = clean_text(record.get("abstract") or "")
    if not title:
        return Skip(source, line, "record without a title")
    if not abstract:
        return Skip(source, line, "entry without an abstract")
    authors, n_authors = _authors(record.get("authors") or record.get("author"))
    iso, written = _date(record)
    ext_id = next((v for k in ("id", "ID", "arxiv_id") if (v := _scalar(record.get(k)))), None)
    return Entry(
        title=title,
        abstract=abstract,
        source=source,
        line=line,
        authors=authors,
        n_authors=n_authors,
        date=iso,
        date_text=written,
        external_id=ext_id,
    )


def _collect(result: ParseResult, item: Entry | Skip) -> None:
    (result.entries if isinstance(item, Entry) else result.skipped).append(item)


def parse_jsonl(text: str, source: str) -> ParseResult:
    result = ParseResult()
    for lineno, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            result.skipped.append(Skip(source, lineno, f"malformed JSON ({exc.msg})"))
            continue
        if not isinstance(record, dict):
            result.skipped.append(Skip(source, lineno, "JSON line is not an object"))
            continue
        _collect(result, entry_from_record(record, source, lineno))
    return result


def parse_csv(text: str, source: str) -> ParseResult:
    result = ParseResult()
    reader = csv.DictReader(io.StringIO(text, newline=""))  # newline="": quoted fields keep their newlines
    try:
        fields = {f.strip().lower() for f in reader.fieldnames or []}
    except csv.Error as exc:
        result.skipped.append(Skip(source, 1, f"malformed CSV header ({exc})"))
        return result
    if not {"title", "abstract"} <= fields:
        result.skipped.append(Skip(source, 1, "CSV header lacks 'title' and 'abstract' columns"))
        return result
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # one bad row (a NUL, an oversized field) loses only that row
            before = reader.line_num
            result.skipped.append(Skip(source, before, f"malformed CSV row ({exc})"))
            continue
        record = {(k or "").strip().lower(): v for k, v in row.items() if isinstance(k, str)}
        _collect(result, entry_from_record(record, source, reader.line_num))
    return result


def parse_bibtex(text: str, source: str) -> ParseResult:
    result = ParseResult()
    library = bibtexparser.parse_string(text)
    for block in library.failed_blocks:
        result.skipped.append(Skip(source, block.start_line + 1, "malformed BibTeX entry"))
    for entry in library.entries:
        record = {k.lower(): v.value for k, v in entry.fields_dict.items()}
        record.setdefault("id", entry.key)
        for key in ("title", "abstract"):  # BibTeX protects capitals with braces
            if key in record:
                record[key] = str(record[key]).replace("{", "").replace("}", "")
        _collect(result, entry_from_record(record, source, entry.start_line + 1))
    return result
