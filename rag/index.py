"""The index: crash-safe ingest into Chroma, and the published view that every reader answers from.

Ingest, under an exclusive lock (one writer per index):

1. parse and deduplicate; compare each paper's content hash with the current published view;
2. list in the journal every chunk id it may leave behind (new chunks, old versions to retire);
3. write the new chunks to Chroma (ids carry the content hash, so a new version never overwrites the
   old one; vectors already in Chroma under the same id, e.g. from a run that was killed, are reused);
4. publish a new view (rag/store/view.py) atomically: readers switch from the old version to the
   new one in one `os.replace`, so an updated paper is never missing or half-written for them;
5. only then delete the old versions and the journal's orphans from Chroma, and clear the journal.

`kill -9` at any point leaves the published view intact and an orphan list in the journal; the next
ingest finishes the job and ends with exactly the papers and chunks of a clean ingest
(tests/test_crash.py kills it at every stage through RAG_TEST_KILL_AT, see rag/store/faults.py).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core import Document
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import MetadataMode
from tqdm import tqdm

from rag import sentences
from rag.corpus.loader import load_corpus
from rag.embeddings import embed_texts, model_identity
from rag.errors import EmbeddingMismatchError, IndexMissingError, StoreError
from rag.models import IngestReport, Paper, SkippedItem, Stats
from rag.settings import Settings
from rag.store import faults
from rag.store import view as views
from rag.store.journal import Journal, writer_lock
from rag.text import tokenizer

# Only the title travels into the embedded/BM25 text; the rest is for filters and display.
EMBEDDED_KEYS = ("title",)
SCHEMA = "3"  # bump when what a chunk stores changes, so the next ingest rewrites old chunks
_PAGE = 5000


def date_int(iso: str | None) -> int:
    """yyyymmdd as an int (0 when unknown): Chroma compares numbers, not date strings."""
    return int(iso.replace("-", "")) if iso else 0


def content_hash(paper: Paper, settings: Settings) -> str:
    """Changes when anything that ends up in the store changes, chunking included."""
    parts = [
        SCHEMA,
        paper.title,
        paper.abstract,
        "|".join(paper.sources),
        paper.date or "",
        paper.date_text or "",
        str(paper.n_authors or ""),
        paper.authors or "",
        paper.external_id or "",
        f"{settings.index.chunk_size}/{settings.index.chunk_overlap}",
        model_identity(settings),
    ]
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()


def embedding_hash(paper: Paper, settings: Settings) -> str:
    """Changes when a chunk's text or vector would change; part of every chunk id."""
    parts = [
        SCHEMA,
        paper.title,
        paper.abstract,
        f"{settings.index.chunk_size}/{settings.index.chunk_overlap}",
        model_identity(settings),
    ]
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:16]


def _record(paper: Paper) -> dict:
    return {
        "paper_id": paper.paper_id,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": paper.authors or "",
        "n_authors": paper.n_authors or 0,
        "date": paper.date or "",
        "date_int": date_int(paper.date),
        "date_text": paper.date_text or "",
        "sources": list(paper.sources),
        "external_id": paper.external_id or "",
    }


def _chunk_metadata(rec: dict, digest: str, i: int, n: int) -> dict:
    """What Chroma stores with a chunk: everything needed to rebuild a view from the store alone."""
    return {
        "paper_id": rec["paper_id"],
        "title": rec["title"],
        "date": rec["date"],
        "date_int": rec["date_int"],
        "date_text": rec["date_text"],
        "sources": "|".join(rec["sources"]),
        "n_authors": rec["n_authors"] or 0,
        "authors": rec["authors"],
        "external_id": rec["external_id"],
        "content_hash": digest,
        "chunk": i,
        "n_chunks": n,
        # the whole abstract rides along (not embedded): small chunks find a paper, the
        # answerer and the verifier then read all of it ("small-to-big").
        "abstract": rec["abstract"],
    }


@dataclass
class _Change:
    """A paper whose stored version must be (re)written."""

    paper: Paper
    digest: str
    old: int | None  # its index in the current view, if any
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # chunk texts (shown, BM25)
    embed_texts: list[str] = field(default_factory=list)  # what the model embeds (title + chunk)
    vectors: list[np.ndarray | None] = field(default_factory=list)


class Index:
    """Chroma (the durable store) plus the published view (what readers use)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._client: Any = None

    # -- connection -----------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            import chromadb  # imported on first use: readers never need it
            from chromadb.config import Settings as ChromaSettings

            ix = self.settings.index
            try:
                if ix.chroma_host:
                    options: dict[str, Any] = {"anonymized_telemetry": False}
                    if ix.chroma_token is not None:
                        options.update(
                            chroma_client_auth_provider="chromadb.auth.token_authn.TokenAuthClientProvider",
                            chroma_client_auth_credentials=ix.chroma_token.get_secret_value(),
                            chroma_auth_token_transport_header=ix.chroma_token_header,
                        )
                    self._client = chromadb.HttpClient(
                        host=ix.chroma_host,
                        port=ix.chroma_port,
                        ssl=ix.chroma_ssl,
                        settings=ChromaSettings(**options),
                    )
                    self._client.heartbeat()
                else:
                    self.settings.chroma_path.mkdir(parents=True, exist_ok=True)
                    self._client = chromadb.PersistentClient(
                        path=str(self.settings.chroma_path),
                        settings=ChromaSettings(anonymized_telemetry=False),
                    )
            except Exception as exc:  # chromadb and httpx raise many types; all mean "store unusable"
                self._client = None
                if (code := _refused(exc)) is not None:
                    raise StoreError(self._refusal(code)) from exc
                raise StoreError(
                    f"cannot open the Chroma store at {self.settings.store_location} ({_brief(exc)}); "
                    "check RAG_DATA_DIR or start the server with `chroma run`"
                ) from exc
        return self._client

    def _refusal(self, code: int) -> str:
        ix = self.settings.index
        sent = "no token was sent" if ix.chroma_token is None else f"the token was sent as {ix.chroma_token_header}"
        return (
            f"the Chroma server at {self.settings.store_location} refused the request (HTTP {code}; {sent}): "
            "set RAG_INDEX__CHROMA_TOKEN to its token and RAG_INDEX__CHROMA_TOKEN_HEADER to the header it "
            "expects (Authorization or X-Chroma-Token)"
        )

    @contextmanager
    def _chroma(self, what: str) -> Iterator[None]:
        """Chroma and transport failures become one StoreError line; ours pass through."""
        try:
            yield
        except (StoreError, IndexMissingError, EmbeddingMismatchError):
            raise
        except Exception as exc:  # chromadb raises ChromaError, httpx, ValueError, RuntimeError, OSError...
            if (code := _refused(exc)) is not None:
                raise StoreError(f"{self._refusal(code)}; nothing published was lost") from exc
            raise StoreError(
                f"Chroma store at {self.settings.store_location} failed while {what} ({_brief(exc)}); "
                "nothing published was lost: fix the store (is `chroma run` up? disk full?) and run "
                "`rag ingest` again"
            ) from exc

    def collection(self, create: bool = False, dim: int | None = None) -> Any:
        from chromadb.errors import ChromaError, NotFoundError

        name = self.settings.index.collection
        identity = model_identity(self.settings)
        try:
            if create:
                col = self.client.get_or_create_collection(
                    name,
                    metadata={"hnsw:space": "cosine", "embedding_model": identity, "embedding_dim": dim or 0},
                )
            else:
                col = self.client.get_collection(name)
        except NotFoundError as exc:
            raise IndexMissingError(
                f"no index at {self.settings.store_location} (collection '{name}'): run `rag ingest`"
            ) from exc
        except (ChromaError, ValueError) as exc:
            raise StoreError(f"Chroma store at {self.settings.store_location}: {exc}") from exc
        except StoreError:
            raise
        except Exception as exc:  # transport errors of the HTTP client
            raise StoreError(f"Chroma store at {self.settings.store_location}: {_brief(exc)}") from exc
        recorded = (col.metadata or {}).get("embedding_model")
        if recorded and recorded != identity:
            raise EmbeddingMismatchError(self._mismatch(recorded))
        return col

    def _mismatch(self, recorded: str) -> str:
        return (
            f"the index at {self.settings.store_location} was built with embeddings '{recorded}' "
            f"but settings ask for '{model_identity(self.settings)}': run `rag ingest --rebuild` to re-embed, "
            f"or set the embedding settings back"
        )

    # -- reading ----------------------------------------------------------------------
    def view(self) -> views.View:
        """The published view readers use; IndexMissingError before the first ingest."""
        view = views.current(self.settings)
        if view is None:
            raise IndexMissingError(
                f"no index at {self.settings.store_location} (collection '{self.settings.index.collection}', "
                f"view {views.view_root(self.settings)}): run `rag ingest`"
            )
        recorded = view.meta.get("embedding_model")
        if recorded != model_identity(self.settings):
            raise EmbeddingMismatchError(self._mismatch(recorded))
        return view

    def iter_chunks(self, col: Any | None = None, include_documents: bool = True) -> Iterable[tuple[str, str, dict]]:
        """(chunk id, text, metadata) for every chunk in Chroma, paged so large stores stay cheap."""
        col = col or self.collection()
        include = ["metadatas", "documents"] if include_documents else ["metadatas"]
        offset = 0
        while True:
            with self._chroma("reading chunks"):
                page = col.get(include=include, limit=_PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            docs = page.get("documents") or [""] * len(ids)
            for cid, doc, meta in zip(ids, docs, page["metadatas"]):
                yield cid, doc or "", dict(meta or {})
            offset += len(ids)

    def catalog(self) -> dict[str, dict]:
        """paper_id -> its published record (title, dates, sources, content hash...)."""
        view = self.view()
        return {rec["paper_id"]: rec for rec in map(view.paper_record, range(view.n_papers))}

    def stats(self) -> Stats:
        if self.settings.index.chroma_host:
            self.client  # noqa: B018  (a dead server is reported, as for any store command)
        view = self.view()
        return Stats(
            papers=view.n_papers,
            chunks=view.n_chunks,
            embedding_model=view.meta.get("embedding_model"),
            embedding_dim=view.meta.get("embedding_dim") or None,
            store=self.settings.store_location,
            collection=self.settings.index.collection,
            sources=dict(sorted(view.meta.get("source_counts", {}).items())),
        )

    # -- writing ----------------------------------------------------------------------
    def splitter(self) -> SentenceSplitter:
        return SentenceSplitter(
            chunk_size=self.settings.index.chunk_size,
            chunk_overlap=self.settings.index.chunk_overlap,
            tokenizer=tokenizer(),
            chunking_tokenizer_fn=sentences.split,  # llama-index's default split, without importing NLTK
        )

    def drop(self) -> None:
        from chromadb.errors import NotFoundError

        with self._chroma("dropping the collection"):
            try:
                self.client.delete_collection(self.settings.index.collection)
            except (NotFoundError, ValueError):
                pass

    def ingest(
        self, paths: Iterable[Path] | None = None, *, rebuild: bool = False, progress: bool = False
    ) -> IngestReport:
        """Parse, deduplicate, and write only what changed; crash-safe (see the module docstring)."""
        start = time.perf_counter()
        papers, entries, skips, nfiles = load_corpus(paths, self.settings.index.max_file_bytes)
        report = IngestReport(
            files=nfiles,
            entries=len(entries),
            papers=len(papers),
            skipped=[SkippedItem(source=s.source, line=s.line, reason=s.reason) for s in skips],
        )
        faults.checkpoint("parse")
        root = views.view_root(self.settings)
        with writer_lock(root, self.settings.index.lock_timeout):
            self._ingest_locked(papers, report, rebuild, progress, root)
        report.seconds = round(time.perf_counter() - start, 3)
        return report

    def _ingest_locked(self, papers: list[Paper], report: IngestReport, rebuild: bool, progress: bool, root: Path):
        journal = Journal.load(root)
        if rebuild and not journal.rebuild:
            journal.rebuild = True
            _write(journal.save, root)
            self.drop()
        published = views.current(self.settings)
        old = None if journal.rebuild else published
        if old is not None and old.meta.get("embedding_model") != model_identity(self.settings):
            raise EmbeddingMismatchError(self._mismatch(old.meta.get("embedding_model")))
        keep, changes = self._plan(papers, old, report)
        if not changes and not journal.dirty and old is not None:
            return  # nothing changed: nothing to write, nothing to publish

        col = self._open_for_writing()
        self._chunk(changes)
        retire: set[str] = set()
        for ch in changes:
            if ch.old is not None:
                old_ids = [old.chunk_ids[j] for j in old.paper_chunk_range(ch.old)]
                if old_ids == ch.ids:  # same text: reuse the published vectors (a metadata-only change)
                    rows = old.paper_chunk_range(ch.old)
                    ch.vectors = [np.asarray(old.vectors[j]) for j in rows]
                else:
                    retire.update(old_ids)
        journal.pending.update(cid for ch in changes for cid in ch.ids)
        journal.pending.update(retire)
        _write(journal.save, root)

        self._fill_vectors(col, changes, progress)
        report.chunks_written = sum(len(ch.ids) for ch in changes)

        if changes or journal.rebuild or old is None:
            meta = {
                "embedding_model": model_identity(self.settings),
                "collection": self.settings.index.collection,
                "store": self.settings.store_location,
                "chunk_size": self.settings.index.chunk_size,
                "chunk_overlap": self.settings.index.chunk_overlap,
            }
            new = [
                views.NewPaper(
                    record=_record(ch.paper),
                    digest=ch.digest,
                    chunk_ids=ch.ids,
                    chunk_texts=ch.texts,
                    vectors=np.asarray(ch.vectors, dtype=np.float32).reshape(len(ch.ids), -1),
                )
                for ch in changes
            ]
            dim = _dim(changes, old)
            version = (published.version if published else 0) + 1
            current = _write(lambda: views.publish(self.settings, old, keep, new, meta, dim, version), root)
        else:
            current = old

        published = _published_ids(current, journal.pending)
        dead = sorted(journal.pending - published)
        # a killed run may have rewritten the metadata of published chunks (same text, new sources): restore
        self._restore(col, current, published - {cid for ch in changes for cid in ch.ids})
        if old is None and not journal.rebuild and not self.settings.index.chroma_host:
            dead = self._unpublished(col, current)  # a store without a view (older layout): sweep it all
        self._delete(col, dead)
        faults.checkpoint("gc")
        _write(journal.clear, root)
        views.collect(self.settings)

    def _plan(
        self, papers: list[Paper], old: views.View | None, report: IngestReport
    ) -> tuple[list[int], list[_Change]]:
        """(indices of published papers kept as they are, papers to write)."""
        touched: set[int] = set()
        keep: list[int] = []
        changes: list[_Change] = []
        index = old.paper_index if old is not None else {}
        for paper in papers:
            i = index.get(paper.paper_id)
            if i is not None:
                rec = old.paper_record(i)
                paper.sources = sorted(set(paper.sources) | set(rec["sources"]))
                touched.add(i)
            digest = content_hash(paper, self.settings)
            if i is not None and rec["digest"] == digest:
                report.unchanged += 1
                keep.append(i)
                continue
            if i is not None:
                report.updated += 1
            else:
                report.added += 1
            changes.append(_Change(paper, digest, i))
        if old is not None:
            keep.extend(i for i in range(old.n_papers) if i not in touched)  # papers not in these files stay
        return sorted(keep), changes

    def _chunk(self, changes: list[_Change]) -> None:
        docs = [
            Document(
                id_=ch.paper.paper_id,
                text=ch.paper.abstract,
                metadata={"title": ch.paper.title},
                excluded_embed_metadata_keys=[],
                excluded_llm_metadata_keys=[],
            )
            for ch in changes
        ]
        by_paper = {ch.paper.paper_id: ch for ch in changes}
        for node in self.splitter().get_nodes_from_documents(docs):
            ch = by_paper[node.ref_doc_id]
            ch.texts.append(node.get_content())
            ch.embed_texts.append(node.get_content(metadata_mode=MetadataMode.EMBED))
        for ch in changes:
            eh = embedding_hash(ch.paper, self.settings)
            ch.ids = [f"{ch.paper.paper_id}-{eh}-{j}" for j in range(len(ch.texts))]
            ch.vectors = [None] * len(ch.ids)

    def _open_for_writing(self) -> Any:
        try:
            return self.collection()
        except IndexMissingError:
            dim = len(embed_texts(self.settings, ["dimension probe"])[0])
            with self._chroma("creating the collection"):
                return self.collection(create=True, dim=dim)

    def _fill_vectors(self, col: Any, changes: list[_Change], progress: bool) -> None:
        """Vectors for every new chunk (reused from Chroma when there, else embedded), written to Chroma."""
        slots = [(ch, j) for ch in changes for j in range(len(ch.ids))]
        missing = [(ch, j) for ch, j in slots if ch.vectors[j] is None]
        step = self.settings.index.write_batch_size
        for b in range(0, len(missing), step):  # chunks a killed run already wrote are not embedded again
            batch = missing[b : b + step]
            with self._chroma("reading existing chunks"):
                got = col.get(ids=[ch.ids[j] for ch, j in batch], include=["embeddings"])
            found = dict(zip(got["ids"], got["embeddings"] if got["embeddings"] is not None else []))
            for ch, j in batch:
                if ch.ids[j] in found:
                    ch.vectors[j] = np.asarray(found[ch.ids[j]], dtype=np.float32)
        todo = sorted((s for s in slots if s[0].vectors[s[1]] is None), key=lambda s: len(s[0].embed_texts[s[1]]))
        done = {id(s) for s in todo}
        # closed on errors too, so an error message starts on a line of its own
        with tqdm(total=len(todo), desc="Embedding", unit="chunk", disable=not progress or not todo) as bar:
            for b in range(0, len(todo), step):
                batch = todo[b : b + step]
                vectors = embed_texts(self.settings, [ch.embed_texts[j] for ch, j in batch])
                for (ch, j), vec in zip(batch, vectors):
                    ch.vectors[j] = np.asarray(vec, dtype=np.float32)
                faults.checkpoint("embed")
                self._upsert(col, batch)
                bar.update(len(batch))
        rest = [s for s in slots if id(s) not in done]
        for b in range(0, len(rest), step):
            self._upsert(col, rest[b : b + step])

    def _upsert(self, col: Any, batch: list[tuple[_Change, int]]) -> None:
        if not batch:
            return
        recs = {id(ch): _record(ch.paper) for ch, _ in batch}
        with self._chroma("writing chunks"):
            col.upsert(
                ids=[ch.ids[j] for ch, j in batch],
                embeddings=[np.asarray(ch.vectors[j], dtype=np.float32) for ch, j in batch],
                documents=[ch.texts[j] for ch, j in batch],
                metadatas=[_chunk_metadata(recs[id(ch)], ch.digest, j, len(ch.ids)) for ch, j in batch],
            )
        faults.checkpoint("write")

    def _restore(self, col: Any, view: views.View | None, ids: set[str]) -> None:
        """Rewrite these published chunks in Chroma exactly as the view has them."""
        if view is None or not ids:
            return
        rows = [
            j for i in sorted({view.paper_index[c.split("-", 1)[0]] for c in ids}) for j in view.paper_chunk_range(i)
        ]
        rows = [j for j in rows if view.chunk_ids[j] in ids]
        step = self.settings.index.write_batch_size
        for b in range(0, len(rows), step):
            part = rows[b : b + step]
            metas = []
            for j in part:
                p = int(view.chunk_paper[j])
                rng = view.paper_chunk_range(p)
                rec = view.paper_record(p)
                metas.append(_chunk_metadata(rec, rec["digest"], j - rng.start, len(rng)))
            with self._chroma("restoring chunks"):
                col.upsert(
                    ids=[view.chunk_ids[j] for j in part],
                    embeddings=np.asarray(view.vectors[part], dtype=np.float32),
                    documents=[view.chunk_texts[j] for j in part],
                    metadatas=metas,
                )
            faults.checkpoint("write")

    def _delete(self, col: Any, ids: list[str]) -> None:
        step = self.settings.index.write_batch_size
        for b in range(0, len(ids), step):
            with self._chroma("deleting replaced chunks"):
                col.delete(ids=ids[b : b + step])
            faults.checkpoint("delete")

    def _unpublished(self, col: Any, view: views.View | None) -> list[str]:
        have = set(view.chunk_ids) if view is not None else set()
        out: list[str] = []
        offset = 0
        while True:
            with self._chroma("listing chunks"):
                ids = col.get(include=[], limit=_PAGE, offset=offset)["ids"]
            if not ids:
                return out
            out.extend(c for c in ids if c not in have)
            offset += len(ids)


def _dim(changes: list[_Change], old: views.View | None) -> int:
    for ch in changes:
        for v in ch.vectors:
            return len(v)
    if old is not None:
        return int(old.meta["embedding_dim"])
    return 0


def _published_ids(view: views.View | None, candidates: set[str]) -> set[str]:
    """Which of these chunk ids the view uses, looked up through their paper (no scan of the view)."""
    if view is None:
        return set()
    index = view.paper_index
    out: set[str] = set()
    for cid in candidates:
        i = index.get(cid.split("-", 1)[0])
        if i is not None:
            out.update(c for c in (view.chunk_ids[j] for j in view.paper_chunk_range(i)) if c in candidates)
    return out


def _write(fn, root: Path):
    """Run a local write (journal, view); a full or read-only disk becomes one StoreError line."""
    try:
        return fn()
    except OSError as exc:
        raise StoreError(
            f"cannot write the index at {root} ({exc.strerror or exc}): free disk space or fix permissions, "
            "then run `rag ingest` again; the previously published index is still in use"
        ) from exc


def _refused(exc: BaseException) -> int | None:
    """401/403 if the server (or a gateway in front of it) refused our credentials, else None.

    chromadb raises its own auth errors for Chroma's JSON bodies, and a bare Exception(response text)
    for anyone else's (nginx, a cloud gateway) raised while handling httpx's HTTPStatusError: the
    status survives only in the exception chain.
    """
    from chromadb.errors import AuthorizationError, ChromaAuthError

    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, AuthorizationError):
            return 401
        if isinstance(e, ChromaAuthError):
            return 403
        response = getattr(e, "response", None)
        status = getattr(response, "status_code", None)
        if status in (401, 403):
            return int(status)
        e = e.__cause__ or e.__context__
    return None


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
