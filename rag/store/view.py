"""The published view: an immutable, versioned snapshot of the store that every reader answers from.

Layout under `<data_dir>/views/<collection>/` (a `<host>-<port>/` level is added for a Chroma server):

    CURRENT               the name of the current version directory (replaced atomically)
    v000007-1a2b3c4d/     one published version; never modified after it is made current
        view.json         version, embedding model, counts, sources, settings it was built with
        papers.*          per paper: id, content hash, title, abstract, dates, authors, sources, chunk range
        chunks.*          per chunk: id, text, paper index; vectors.npy (float32, L2-normalised)
        bm25/             the bm25s index over the chunks (saved with bm25s, loaded memory-mapped)
        df.json           document frequencies of stemmed words (the answerer's IDF weights)
        ann.faiss         large stores only: the approximate dense index (rag/store/ann.py)

Why a view and not Chroma for reading: Chroma's embedded client is not process-safe; it caches each
collection's HNSW index per process, so a long-running process never sees vectors another process
added (issue 10, bug 3), and a reader could load HNSW files while a writer rewrites them. A version
directory is written in full, fsynced, and only then named in CURRENT by `os.replace`, so a reader
sees the old version or the new one, never a mix, never a paper with half its chunks; it opens in
milliseconds (everything is memory-mapped) and checking for a newer version is one `stat`.
Chroma stays the durable store of record (vectors + metadata of every chunk), which ingest resumes
from after a crash and which another machine's ingest can reuse through a Chroma server.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from rag.errors import StoreError
from rag.lexical import content_stems
from rag.settings import Settings
from rag.store import ann as ann_index
from rag.store import faults
from rag.store.columns import Strings, open_array, write_array, write_strings

FORMAT = 1
PAPER_TEXT = ("paper_id", "digest", "title", "abstract", "authors", "date", "date_text", "sources", "external_id")


def view_root(settings: Settings) -> Path:
    root = settings.data_dir / "views"
    if settings.index.chroma_host:
        root = root / f"{settings.index.chroma_host}-{settings.index.chroma_port}"
    return root / settings.index.collection


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def bm25_text(title: str, chunk: str) -> str:
    """What BM25 indexes for a chunk: the title travels with every chunk, as for the embeddings."""
    return f"{title}\n\n{chunk}"


@dataclass
class View:
    """One published version, opened read-only. Safe to share between threads."""

    folder: Path
    meta: dict
    papers: dict[str, Strings]
    chunk_ids: Strings
    chunk_texts: Strings
    chunk_paper: np.ndarray
    paper_first: np.ndarray
    paper_nchunks: np.ndarray
    paper_date: np.ndarray
    paper_nauthors: np.ndarray
    vectors: np.ndarray
    source_ptr: np.ndarray
    source_papers: np.ndarray
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, folder: Path) -> View:
        meta = json.loads((folder / "view.json").read_text())
        if meta.get("format") != FORMAT:
            raise StoreError(
                f"the index at {folder.parent} has view format {meta.get('format')}, this version reads "
                f"{FORMAT}: run `rag ingest --rebuild`"
            )
        return cls(
            folder=folder,
            meta=meta,
            papers={name: Strings.open(folder, f"papers.{name}") for name in PAPER_TEXT},
            chunk_ids=Strings.open(folder, "chunks.id"),
            chunk_texts=Strings.open(folder, "chunks.text"),
            chunk_paper=open_array(folder, "chunks.paper"),
            paper_first=open_array(folder, "papers.first"),
            paper_nchunks=open_array(folder, "papers.nchunks"),
            paper_date=open_array(folder, "papers.date_int"),
            paper_nauthors=open_array(folder, "papers.n_authors"),
            vectors=open_array(folder, "vectors"),
            source_ptr=open_array(folder, "sources.ptr"),
            source_papers=open_array(folder, "sources.papers"),
        )

    # -- facts ------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return int(self.meta["version"])

    @property
    def n_papers(self) -> int:
        return len(self.paper_first)

    @property
    def n_chunks(self) -> int:
        return len(self.chunk_paper)

    @property
    def sources(self) -> list[str]:
        return list(self.meta["sources"])

    @cached_property
    def bm25(self) -> Any:
        if not self.n_chunks:
            return None
        return bm25s.BM25.load(self.folder / "bm25", mmap=True, show_progress=False)

    @cached_property
    def ann(self) -> Any | None:
        """The approximate dense index (None: this version is small enough for the exact scan)."""
        return ann_index.load(self.folder)

    @cached_property
    def df(self) -> dict[str, int]:
        return json.loads((self.folder / "df.json").read_text())

    @cached_property
    def paper_index(self) -> dict[str, int]:
        ids = self.papers["paper_id"]
        return {ids[i]: i for i in range(len(ids))}

    def paper_chunk_range(self, i: int) -> range:
        first = int(self.paper_first[i])
        return range(first, first + int(self.paper_nchunks[i]))

    def paper_record(self, i: int) -> dict:
        """The paper's fields (sources as a list), as ingest and the catalog need them."""
        rec = {name: self.papers[name][i] for name in PAPER_TEXT}
        rec["sources"] = [s for s in rec["sources"].split("|") if s]
        rec["n_authors"] = int(self.paper_nauthors[i]) or None
        rec["date_int"] = int(self.paper_date[i])
        return rec

    def papers_of_sources(self, names: list[str]) -> np.ndarray:
        index = {s: j for j, s in enumerate(self.sources)}
        parts = [
            self.source_papers[self.source_ptr[index[s]] : self.source_ptr[index[s] + 1]] for s in names if s in index
        ]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)


# -- reading the current version ------------------------------------------------------------------
def read_through(folder: Path, block: int = 1 << 22) -> int:
    """Read every file of a view once, sequentially, so that it sits in the page cache; returns the
    bytes read. `posix_fadvise(WILLNEED)` would be the polite way, but measured here it changed
    nothing (the kernel returned at once and read nothing)."""
    buf = bytearray(block)
    done = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with open(path, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                done += n
    return done


def read_ahead(folder: Path) -> threading.Thread:
    """Read a view's files into the page cache from a background thread (see `read_through`).

    Why: questions touch the vectors, the approximate index and BM25 at scattered rows, through
    memory maps. On a cold page cache each first touch is a small disk read: at 100k papers the
    first ~100 questions of a fresh process took 30-130 ms instead of ~12 ms (bench/results/
    2026-12-05-100k-ann). One sequential pass (about 1 GB, 1.6 s there) replaces those scattered
    reads, and the first question does not wait for it.
    """

    def run() -> None:
        # Only a warm-up: an error (a writer collected this version meanwhile) costs speed, never an
        # answer, so it ends the read-ahead and nothing else.
        try:
            read_through(folder)
        except OSError:
            return

    thread = threading.Thread(target=run, name="rag-view-read-ahead", daemon=True)
    thread.start()
    return thread


_cache: dict[Path, tuple[tuple[int, int, int], View]] = {}
_cache_lock = threading.Lock()


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def current(settings: Settings) -> View | None:
    """The current published view (cached per process; one `stat` to notice a newer one), or None."""
    root = view_root(settings)
    pointer = root / "CURRENT"
    stamp = _stamp(pointer)
    if stamp is None:
        return None
    hit = _cache.get(root)
    if hit and hit[0] == stamp:
        return hit[1]
    with _cache_lock:
        for _ in range(10):
            stamp = _stamp(pointer)
            if stamp is None:
                return None
            hit = _cache.get(root)
            if hit and hit[0] == stamp:
                return hit[1]
            try:
                name = pointer.read_text().strip()
                view = View.open(root / name)
            except FileNotFoundError:
                continue  # a writer replaced CURRENT and collected that version meanwhile: read it again
            except (OSError, ValueError, KeyError) as exc:
                raise StoreError(
                    f"the published index at {root} cannot be read ({exc}): run `rag ingest --rebuild`"
                ) from exc
            _cache[root] = (stamp, view)
            read_ahead(view.folder)
            return view
    raise StoreError(f"the index at {root} keeps changing while it is opened: try again")


# -- writing a new version ------------------------------------------------------------------------
@dataclass
class NewPaper:
    """A paper for the next version: its fields, content hash, and its chunks with their vectors."""

    record: dict
    digest: str
    chunk_ids: list[str]
    chunk_texts: list[str]
    vectors: np.ndarray


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def publish(
    settings: Settings,
    old: View | None,
    keep: list[int],
    new: list[NewPaper],
    meta: dict,
    dim: int,
    version: int,
) -> View:
    """Write version `version` (old papers `keep` + `new`) and make it current atomically.

    Runs only under the ingest lock. A crash before the `os.replace` leaves a `tmp-*` folder that the
    next publish removes; the current version is untouched until then.
    """
    root = view_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f"tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()

    records: list[dict] = []
    chunk_ids: list[str] = []
    chunk_texts: list[str] = []
    chunk_paper: list[int] = []
    first: list[int] = []
    nchunks: list[int] = []
    blocks: list[np.ndarray] = []
    if old is not None and keep:
        rows = np.concatenate([np.arange(r.start, r.stop) for r in map(old.paper_chunk_range, keep)])
        blocks.append(np.asarray(old.vectors[rows], dtype=np.float32))
        for i in keep:
            rec = old.paper_record(i)
            rng = old.paper_chunk_range(i)
            first.append(len(chunk_ids))
            nchunks.append(len(rng))
            chunk_paper.extend([len(records)] * len(rng))
            chunk_ids.extend(old.chunk_ids[j] for j in rng)
            chunk_texts.extend(old.chunk_texts[j] for j in rng)
            records.append(rec)
    for p in new:
        rec = dict(p.record, digest=p.digest)
        first.append(len(chunk_ids))
        nchunks.append(len(p.chunk_ids))
        chunk_paper.extend([len(records)] * len(p.chunk_ids))
        chunk_ids.extend(p.chunk_ids)
        chunk_texts.extend(p.chunk_texts)
        blocks.append(_normalised(p.vectors).reshape(len(p.chunk_ids), dim))
        records.append(rec)
    vectors = np.concatenate(blocks) if blocks else np.zeros((0, dim), dtype=np.float32)
    assert len(vectors) == len(chunk_ids), "one vector per chunk"

    for name in PAPER_TEXT:
        if name == "sources":
            write_strings(tmp, "papers.sources", ("|".join(r["sources"]) for r in records))
        else:
            write_strings(tmp, f"papers.{name}", (str(r.get(name) or "") for r in records))
    write_array(tmp, "papers.first", np.asarray(first, dtype=np.int64))
    write_array(tmp, "papers.nchunks", np.asarray(nchunks, dtype=np.int32))
    write_array(tmp, "papers.date_int", np.asarray([int(r.get("date_int") or 0) for r in records], dtype=np.int32))
    write_array(tmp, "papers.n_authors", np.asarray([int(r.get("n_authors") or 0) for r in records], dtype=np.int32))
    write_strings(tmp, "chunks.id", chunk_ids)
    write_strings(tmp, "chunks.text", chunk_texts)
    write_array(tmp, "chunks.paper", np.asarray(chunk_paper, dtype=np.int32))
    write_array(tmp, "vectors", vectors)
    min_chunks = settings.retrieval.ann_min_chunks
    if min_chunks and len(vectors) >= min_chunks:
        meta = dict(meta, ann=ann_index.build(vectors, tmp))
        _fsync(tmp / ann_index.FILE)

    by_source: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        for s in r["sources"]:
            by_source.setdefault(s, []).append(i)
    names = sorted(by_source)
    ptr = np.cumsum([0] + [len(by_source[s]) for s in names]).astype(np.int64)
    flat = [i for s in names for i in by_source[s]]
    write_array(tmp, "sources.ptr", ptr)
    write_array(tmp, "sources.papers", np.asarray(flat, dtype=np.int32))

    titles = [r["title"] for r in records]
    tokens = [content_stems(bm25_text(titles[p], t)) for p, t in zip(chunk_paper, chunk_texts)]
    df: dict[str, int] = {}
    for toks in tokens:
        for w in set(toks):
            df[w] = df.get(w, 0) + 1
    _write_json(tmp / "df.json", df)
    if tokens:
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
        bm25.save(tmp / "bm25", show_progress=False)
        for f in (tmp / "bm25").iterdir():
            _fsync(f)
        _fsync(tmp / "bm25")

    meta = dict(
        meta,
        format=FORMAT,
        version=version,
        papers=len(records),
        chunks=len(chunk_ids),
        embedding_dim=dim,
        sources=names,
        source_counts={s: len(by_source[s]) for s in names},
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    _write_json(tmp / "view.json", meta)
    _fsync(tmp)
    final = root / f"v{version:06d}-{tmp.name[4:]}"
    os.replace(tmp, final)
    faults.checkpoint("publish")
    pointer_tmp = root / "CURRENT.tmp"
    pointer_tmp.write_text(final.name + "\n")
    _fsync(pointer_tmp)
    os.replace(pointer_tmp, root / "CURRENT")
    _fsync(root)
    faults.checkpoint("publish")
    return View.open(final)


def collect(settings: Settings, keep_previous: int = 1) -> None:
    """Remove unfinished `tmp-*` folders and versions older than the current one and its predecessor.

    The predecessor stays so that a reader that read CURRENT just before a publish can still open it;
    readers holding an older version keep their memory maps (deleting a mapped file is safe on POSIX).
    """
    root = view_root(settings)
    try:
        current_name = (root / "CURRENT").read_text().strip()
    except FileNotFoundError:
        current_name = ""
    versions = sorted(p.name for p in root.glob("v*-*") if p.is_dir())
    keep = set()
    if current_name in versions:
        pos = versions.index(current_name)
        keep = set(versions[max(0, pos - keep_previous) : pos + 1])
    for p in root.iterdir() if root.is_dir() else []:
        if p.is_dir() and (p.name.startswith("tmp-") or (p.name.startswith("v") and p.name not in keep)):
            shutil.rmtree(p, ignore_errors=True)


def _write_json(path: Path, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
        f.flush()
        os.fsync(f.fileno())
