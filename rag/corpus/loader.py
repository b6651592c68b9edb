"""Read abstract files of any supported type and deduplicate them into papers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from rag.corpus.listing import parse_listing
from rag.corpus.records import Entry, ParseResult, Skip, normalize_title, paper_id_for
from rag.corpus.structured import parse_bibtex, parse_csv, parse_jsonl
from rag.errors import CorpusError
from rag.models import Paper

Parser = Callable[[str, str], ParseResult]
PARSERS: dict[str, Parser] = {
    ".txt": parse_listing,
    ".jsonl": parse_jsonl,
    ".ndjson": parse_jsonl,
    ".csv": parse_csv,
    ".bib": parse_bibtex,
}
SUPPORTED = tuple(PARSERS)
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "data" / "abstracts"


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, plus supported files found under named folders (sorted)."""
    files: list[Path] = []
    for path in paths:
        path = Path(path).expanduser()
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED))
        elif path.exists():
            files.append(path)
        else:
            raise CorpusError(f"no such file or folder: {path}")
    return files


def read_file(path: Path, max_bytes: int) -> ParseResult:
    """Parse one file; unreadable files become a single counted skip, never a traceback."""
    name = path.name
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        return ParseResult(skipped=[Skip(name, None, f"unsupported file type '{path.suffix}'")])
    size = path.stat().st_size
    if size == 0:
        return ParseResult(skipped=[Skip(name, None, "empty file")])
    if size > max_bytes:
        return ParseResult(skipped=[Skip(name, None, f"file larger than {max_bytes} bytes")])
    data = path.read_bytes()
    if b"\x00" in data:
        return ParseResult(skipped=[Skip(name, None, "binary file")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return ParseResult(skipped=[Skip(name, line, "not UTF-8 text")])
    result = parser(text, name)
    if not result.entries and not result.skipped:
        result.skipped.append(Skip(name, None, "no papers found"))
    return result


def deduplicate(entries: Iterable[Entry]) -> list[Paper]:
    """One paper per normalised title; sources merged, the longest abstract kept."""
    papers: dict[str, Paper] = {}
    for e in entries:
        key = normalize_title(e.title)
        p = papers.get(key)
        if p is None:
            papers[key] = Paper(
                paper_id=paper_id_for(e.title),
                title=e.title,
                abstract=e.abstract,
                authors=e.authors,
                n_authors=e.n_authors,
                date=e.date,
                date_text=e.date_text,
                sources=[e.source],
                external_id=e.external_id,
            )
            continue
        if e.source not in p.sources:
            p.sources.append(e.source)
        if len(e.abstract) > len(p.abstract):
            p.abstract = e.abstract
        p.authors = p.authors or e.authors
        p.n_authors = p.n_authors or e.n_authors
        if p.date is None and e.date is not None:
            p.date, p.date_text = e.date, e.date_text
        p.date_text = p.date_text or e.date_text
        p.external_id = p.external_id or e.external_id
    for p in papers.values():
        p.sources.sort()
    return list(papers.values())


def load_corpus(
    paths: Iterable[Path] | None = None, max_bytes: int = 200_000_000
) -> tuple[list[Paper], list[Entry], list[Skip], int]:
    """Parse files (default: the bundled corpus) -> (papers, entries, skips, file count)."""
    files = expand_paths(paths if paths else [BUNDLED_DIR])
    entries: list[Entry] = []
    skipped: list[Skip] = []
    for f in files:
        result = read_file(f, max_bytes)
        entries.extend(result.entries)
        skipped.extend(result.skipped)
    return deduplicate(entries), entries, skipped, len(files)
