"""Parser for copied paper-listing pages (the bundled corpus).

Two layouts occur and one state machine reads both:
(a) title / blank / abstract / optional "• N authors", "·", date lines;
(b) strictly alternating title and abstract lines, the first title glued after "Subscribe".
Page chrome (sign-up prompts, bare date headers) is dropped.
"""

from __future__ import annotations

import re
from datetime import date

from rag.corpus.records import Entry, ParseResult, Skip, clean_text, split_lines

_CHROME_EXACT = {
    "new",
    "subscribe",
    "daily papers",
    "byak and the research community",
}
_CHROME_PREFIX = ("get trending papers",)
_GLUED_PREFIX = "Subscribe"
_AUTHORS = re.compile(r"^•\s*(\d{1,6})\s+authors?$", re.IGNORECASE)  # bounded: int() of 5000 digits raises
_DOT = "·"
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_DATE = re.compile(
    r"^(?P<mon>" + "|".join(_MONTHS) + r")\s+(?P<day>\d{1,2})(?:,\s*(?P<year>\d{4}))?(?:\s+\d+)?$"
)
# An abstract is prose: many words, usually several sentences. A title is short.
_MIN_ABSTRACT_WORDS = 20
_MAX_TITLE_WORDS = 40


def parse_date(text: str) -> tuple[str | None, str | None]:
    """Return (ISO date or None when the page omits the year, the date as written)."""
    m = _DATE.match(text)
    if not m:
        return None, None
    written = f"{m['mon']} {m['day']}" + (f", {m['year']}" if m["year"] else "")
    if not m["year"]:
        return None, written
    try:
        iso = date(int(m["year"]), _MONTHS.index(m["mon"]) + 1, int(m["day"])).isoformat()
    except ValueError:
        return None, written
    return iso, written


def _is_chrome(line: str) -> bool:
    low = line.casefold()
    return low in _CHROME_EXACT or low.startswith(_CHROME_PREFIX)


def looks_like_abstract(line: str) -> bool:
    return len(line.split()) >= _MIN_ABSTRACT_WORDS


def looks_like_title(line: str) -> bool:
    return 0 < len(line.split()) <= _MAX_TITLE_WORDS


def parse_listing(text: str, source: str) -> ParseResult:
    """Parse one listing page into entries; broken entries become counted skips."""
    result = ParseResult()
    pending: tuple[str, int] | None = None  # a title waiting for its abstract
    after_dot = False
    last: Entry | None = None

    for lineno, raw in enumerate(split_lines(text), start=1):
        line = clean_text(raw)
        if not line:
            continue
        if line.startswith(_GLUED_PREFIX) and len(line) > len(_GLUED_PREFIX):
            line = line[len(_GLUED_PREFIX) :].strip()
        if _is_chrome(line):
            continue
        if m := _AUTHORS.match(line):
            if last is not None:
                last.n_authors = int(m[1])
            continue
        if line == _DOT:
            after_dot = True
            continue
        if _DATE.match(line):
            # A date right after "·" belongs to the paper above; elsewhere it is a page header.
            if after_dot and last is not None:
                last.date, last.date_text = parse_date(line)
            after_dot = False
            continue
        after_dot = False

        if pending is None:
            if looks_like_title(line):
                pending = (line, lineno)
            else:
                result.skipped.append(Skip(source, lineno, "abstract without a title"))
            continue
        title, title_line = pending
        if looks_like_abstract(line):
            last = Entry(title=title, abstract=line, source=source, line=title_line)
            result.entries.append(last)
            pending = None
        else:
            result.skipped.append(Skip(source, title_line, "entry without an abstract"))
            pending = (line, lineno) if looks_like_title(line) else None

    if pending is not None:
        result.skipped.append(Skip(source, pending[1], "entry without an abstract"))
    return result
