"""Corpus tab helpers: vet uploads (type, size) before they reach `rag.ingest`, and describe results.

Uploads are copied to `<data_dir>/uploads/<content hash>/<original name>`: the index records the
file name the user knows, two different files with one name never overwrite each other (both are
kept and ingested), an identical re-upload lands on its earlier copy, and a later
`rag ingest <data_dir>/uploads` can rebuild them all.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from rag.corpus.loader import SUPPORTED
from rag.errors import CorpusError
from rag.models import IngestReport, Stats
from ui.format import escape_md

UPLOAD_TYPES = [".txt", ".jsonl", ".csv", ".bib"]  # the types the issue names; SUPPORTED adds .ndjson


@dataclass
class UploadCheck:
    accepted: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def check_uploads(paths: list[str | Path], max_mb: float) -> UploadCheck:
    """Split uploads into usable files and one-line problems (wrong type, too large, empty)."""
    result = UploadCheck()
    limit = int(max_mb * 1024 * 1024)
    for raw in paths:
        path = Path(raw)
        name = path.name
        suffix = path.suffix.lower()
        if suffix not in SUPPORTED:
            kinds = ", ".join(UPLOAD_TYPES)
            result.problems.append(f"{name}: unsupported file type '{suffix or 'none'}' (use {kinds})")
            continue
        size = path.stat().st_size if path.exists() else -1
        if size < 0:
            result.problems.append(f"{name}: the upload is gone; upload it again")
        elif size == 0:
            result.problems.append(f"{name}: the file is empty")
        elif size > limit:
            result.problems.append(
                f"{name}: {size / 1024 / 1024:.1f} MB is over the {max_mb:g} MB limit "
                "(RAG_UI__MAX_UPLOAD_MB); split it or ingest it with `rag ingest`"
            )
        else:
            result.accepted.append(path)
    return result


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def stage_uploads(files: list[Path], data_dir: Path) -> list[Path]:
    """Copy accepted uploads under the data dir, one folder per content, keeping their names.

    Never overwrites: a name already staged with other content gets its own folder. The name is
    reduced to its last component, so an upload cannot land outside `uploads/`.
    """
    target = (data_dir / "uploads").resolve()
    staged: list[Path] = []
    for f in files:
        name = Path(str(f.name)).name
        if name in ("", ".", ".."):
            raise CorpusError(f"cannot store an upload named {name!r}: rename the file")
        dest = target / _digest(f) / name
        if not dest.resolve().is_relative_to(target):  # defence in depth: symlinked folders
            raise CorpusError(f"upload {name!r} would be stored outside {target}: rename it")
        if dest not in staged:
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_name(f".{name}.partial")
                shutil.copyfile(f, tmp)
                os.replace(tmp, dest)  # a crash mid-copy leaves no half file under the real name
            staged.append(dest)
    return staged


def format_stats(stats: Stats | None, problem: str | None = None) -> str:
    """Corpus counts as Markdown; `problem` (e.g. no index yet) replaces them."""
    if stats is None:
        return f'<h3 id="rag-paper-count">No index yet</h3>\n\n{escape_md(problem or "")}'
    dim = f" ({stats.embedding_dim}-d)" if stats.embedding_dim else ""
    lines = [
        f'<h3 id="rag-paper-count">{stats.papers} papers in {stats.chunks} chunks</h3>',
        "",
        "| Index | |",
        "|---|---|",
        f"| Embedding model | {_code(stats.embedding_model or 'unknown')}{dim} |",
        f"| Store | {_code(stats.store)} (collection {_code(stats.collection)}) |",
    ]
    for name, n in stats.sources.items():
        lines.append(f"| File {_code(name)} | {n} papers |")
    return "\n".join(lines)


def _code(text: str) -> str:
    """Inline code as HTML: a backtick in a file name cannot end a Markdown code span early."""
    return f"<code>{escape_md(' '.join(text.split()))}</code>"


def _inline(text: str) -> str:
    """File names and reasons on one list line: inert, and a newline in a name cannot end the item."""
    return escape_md(" ".join(text.split()))


def format_report(report: IngestReport, problems: list[str] | None = None) -> str:
    """The ingest report as Markdown: counts, then every skip reason with where it happened."""
    lines = []
    if report.files:
        lines.append(
            f"**{report.files} file{'s' if report.files != 1 else ''}, {report.entries} entries → "
            f"{report.papers} unique papers:** {report.added} added, {report.updated} updated, "
            f"{report.unchanged} unchanged, {len(report.skipped)} skipped; "
            f"{report.chunks_written} chunks written in {report.seconds:.1f} s."
        )
    for reason, count in sorted(report.skip_counts().items()):
        where = [f"{s.source}:{s.line}" if s.line else s.source for s in report.skipped if s.reason == reason]
        more = " …" if len(where) > 5 else ""
        lines.append(f"- skipped {count} × {_inline(reason)}: {_inline(', '.join(where[:5]))}{more}")
    for p in problems or []:
        lines.append(f"- ⚠️ not ingested: {_inline(p)}")
    return "\n".join(lines) or "Nothing to ingest."
