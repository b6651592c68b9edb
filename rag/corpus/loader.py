"""Read abstract files of any supported type and deduplicate them into papers."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from rag.corpus.listing import parse_listing
from rag.corpus.records import Entry, ParseResult, Skip, normalize_title, paper_id_for
from rag.corpus.structured import parse_bibtex, parse_csv, parse_jsonl
from rag.errors import CorpusError
from rag.models import Paper
from rag.sanitize import replace_surrogates

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


def display_name(name: str) -> str:
    """A file name as text that can be printed and stored: undecodable bytes shown as U+FFFD.

    os.fsdecode turns bytes of a non-UTF-8 name into lone surrogates, which JSON, Chroma and
    the terminal all refuse.
    """
    return replace_surrogates(name)


def _os_reason(exc: OSError) -> str:
    """A short, file-independent reason (the report groups skips by reason)."""
    if isinstance(exc, PermissionError):
        return "permission denied (check the file's permissions)"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    return f"cannot read ({exc.strerror or type(exc).__name__})"


def _walk(folder: Path, skipped: list[Skip]) -> list[Path]:
    """Supported files under `folder`, sorted; symlinked folders are followed once each.

    os.walk rather than Path.rglob: rglob (Python < 3.13) follows a symlink loop until the OS
    refuses (ELOOP) and raises mid-walk; here every folder is entered once, by device and inode,
    and unreadable folders become counted skips.
    """
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()

    def unreadable(exc: OSError) -> None:
        skipped.append(Skip(display_name(Path(exc.filename or folder).name), None, _os_reason(exc)))

    for root, dirs, names in os.walk(folder, onerror=unreadable, followlinks=True):
        try:
            st = os.stat(root)
        except OSError as exc:
            skipped.append(Skip(display_name(Path(root).name), None, _os_reason(exc)))
            dirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            skipped.append(Skip(display_name(Path(root).name), None, "folder already read (symbolic link loop)"))
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs.sort()
        found.extend(Path(root) / n for n in sorted(names) if Path(n).suffix.lower() in SUPPORTED)
    return found


def expand_paths(paths: Iterable[Path], skipped: list[Skip] | None = None) -> list[Path]:
    """Files named directly, plus supported files found under named folders (sorted).

    Folders that cannot be read or are reached twice (symlink loops) are appended to `skipped`.
    """
    skipped = [] if skipped is None else skipped
    files: list[Path] = []
    for path in paths:
        path = Path(path).expanduser()
        if path.is_dir():
            files.extend(_walk(path, skipped))
        elif path.exists():
            files.append(path)
        elif path.is_symlink():
            skipped.append(Skip(display_name(path.name), None, "broken symbolic link or symbolic link loop"))
        else:
            raise CorpusError(f"no such file or folder: {display_name(str(path))}")
    return files


def read_file(path: Path, max_bytes: int) -> ParseResult:
    """Parse one file; unreadable files become a single counted skip, never a traceback."""
    name = display_name(path.name)
    if name != path.name:
        return ParseResult(skipped=[Skip(name, None, "file name is not valid UTF-8 (rename the file)")])
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        return ParseResult(skipped=[Skip(name, None, f"unsupported file type '{path.suffix}'")])
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):  # a folder named x.jsonl, a FIFO that would block...
            kind = "is a folder, not a file" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            return ParseResult(skipped=[Skip(name, None, kind)])
        size = st.st_size
        if size == 0:
            return ParseResult(skipped=[Skip(name, None, "empty file")])
        if size > max_bytes:
            return ParseResult(skipped=[Skip(name, None, f"file larger than {max_bytes} bytes")])
        data = path.read_bytes()
    except OSError as exc:
        return ParseResult(skipped=[Skip(name, None, _os_reason(exc))])
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
    skipped: list[Skip] = []
    files = expand_paths(paths if paths else [BUNDLED_DIR], skipped)
    entries: list[Entry] = []
    for f in files:
        result = read_file(f, max_bytes)
        entries.extend(result.entries)
        skipped.extend(result.skipped)
    return deduplicate(entries), entries, skipped, len(files)
