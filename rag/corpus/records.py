"""Records produced by the corpus parsers, before deduplication."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

from rag.sanitize import printable, replace_surrogates


@dataclass
class Entry:
    """One paper as it appeared in one file (a listing page may repeat a paper)."""

    title: str
    abstract: str
    source: str
    line: int
    n_authors: int | None = None
    authors: str | None = None
    date: str | None = None  # ISO date when the year is known
    date_text: str | None = None  # the date as written
    external_id: str | None = None


@dataclass
class Skip:
    """An input record we could not use, with the reason shown in the ingest report."""

    source: str
    line: int | None
    reason: str


@dataclass
class ParseResult:
    entries: list[Entry] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)


_SPACE = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^\w]+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def clean_text(text: str) -> str:
    """Unicode-normalise and collapse whitespace (listing pages carry stray spaces).

    Control characters (ANSI escapes...) are dropped and lone surrogates (from a JSON "\\ud800"
    escape) replaced: neither is text, and both break the tokenizer, the store or a terminal.
    """
    text = _SPACE.sub(" ", unicodedata.normalize("NFKC", replace_surrogates(text)))
    return _SPACE.sub(" ", printable(text)).strip()


def split_lines(text: str) -> list[str]:
    """Lines as an editor counts them: only CR/LF break lines, not U+2028 or form feeds
    (str.splitlines would cut a JSON line at a raw U+2028 inside a string)."""
    return _LINE_BREAK.split(text)


def normalize_title(title: str) -> str:
    """Key used for deduplication: case, punctuation and spacing do not make a new paper."""
    return _NON_WORD.sub(" ", clean_text(title).casefold()).strip()


def paper_id_for(title: str) -> str:
    """Stable id derived from the normalised title, so re-ingesting finds the same paper."""
    return "p" + hashlib.sha1(normalize_title(title).encode()).hexdigest()[:12]
