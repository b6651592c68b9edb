"""Parsers for structured abstract files: JSONL, CSV (arXiv-metadata style) and BibTeX."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from typing import Any

import bibtexparser

from rag.corpus.records import Entry, ParseResult, Skip, clean_text

_DATE_FIELDS = ("update_date", "date", "published", "year")
_ISO = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


def _authors(value: Any) -> tuple[str | None, int | None]:
    if value is None or value == "":
        return None, None
    if isinstance(value, list):
        names = [clean_text(str(v)) for v in value if str(v).strip()]
    else:
        text = clean_text(str(value))
        # arXiv metadata and BibTeX separate names with "and" or commas
        names = [n for n in re.split(r"\s+and\s+|,\s*(?=[A-Z])|;", text) if n.strip()]
    return ", ".join(names) or None, len(names) or None


def _date(record: Mapping[str, Any]) -> tuple[str | None, str | None]:
    for key in _DATE_FIELDS:
        value = record.get(key)
        if value in (None, ""):
            continue
        text = clean_text(str(value))
        m = _ISO.match(text)
        if not m:
            return None, text
        year, month, day = m[1], m[2] or "01", m[3] or "01"
        return f"{year}-{month}-{day}", text
    return None, None


def entry_from_record(record: Mapping[str, Any], source: str, line: int) -> Entry | Skip:
    """Build an Entry from a title/abstract mapping, or say why it cannot be used."""
    title = clean_text(str(record.get("title") or ""))
    abstract = clean_text(str(record.get("abstract") or ""))
    if not title:
        return Skip(source, line, "record without a title")
    if not abstract:
        return Skip(source, line, "entry without an abstract")
    authors, n_authors = _authors(record.get("authors") or record.get("author"))
    iso, written = _date(record)
    ext_id = record.get("id") or record.get("ID") or record.get("arxiv_id")
    return Entry(
        title=title,
        abstract=abstract,
        source=source,
        line=line,
        authors=authors,
        n_authors=n_authors,
        date=iso,
        date_text=written,
        external_id=str(ext_id) if ext_id else None,
    )


def _collect(result: ParseResult, item: Entry | Skip) -> None:
    (result.entries if isinstance(item, Entry) else result.skipped).append(item)


def parse_jsonl(text: str, source: str) -> ParseResult:
    result = ParseResult()
    for lineno, line in enumerate(text.splitlines(), start=1):
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
    reader = csv.DictReader(io.StringIO(text))
    fields = {f.strip().lower() for f in reader.fieldnames or []}
    if not {"title", "abstract"} <= fields:
        result.skipped.append(Skip(source, 1, "CSV header lacks 'title' and 'abstract' columns"))
        return result
    try:
        for row in reader:
            record = {(k or "").strip().lower(): v for k, v in row.items()}
            _collect(result, entry_from_record(record, source, reader.line_num))
    except csv.Error as exc:
        result.skipped.append(Skip(source, reader.line_num, f"malformed CSV ({exc})"))
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
