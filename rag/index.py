"""The Chroma-backed index: chunking, embedding, incremental writes, and the paper catalog."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError, NotFoundError
from llama_index.core import Document
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.vector_stores.chroma import ChromaVectorStore

from rag.corpus.loader import load_corpus
from rag.embeddings import get_embedder, model_identity
from rag.errors import EmbeddingMismatchError, IndexMissingError, StoreError
from rag.models import IngestReport, Paper, SkippedItem, Stats
from rag.settings import Settings
from rag.text import tokenizer

# Only the title travels into the embedded/BM25 text; the rest is for filters and display.
EMBEDDED_KEYS = ("title",)
SCHEMA = "2"  # bump when what a chunk stores changes, so the next ingest rewrites old chunks
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
        f"{settings.index.chunk_size}/{settings.index.chunk_overlap}",
    ]
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()


def _document(paper: Paper, digest: str) -> Document:
    metadata = {
        "paper_id": paper.paper_id,
        "title": paper.title,
        "date": paper.date or "",
        "date_int": date_int(paper.date),
        "date_text": paper.date_text or "",
        "sources": "|".join(paper.sources),
        "n_authors": paper.n_authors or 0,
        "authors": paper.authors or "",
        "external_id": paper.external_id or "",
        "content_hash": digest,
        # the whole abstract rides along (not embedded): small chunks find a paper, the
        # answerer and the verifier then read all of it ("small-to-big").
        "abstract": paper.abstract,
    }
    hidden = [k for k in metadata if k not in EMBEDDED_KEYS]
    return Document(
        id_=paper.paper_id,
        text=paper.abstract,
        metadata=metadata,
        excluded_embed_metadata_keys=hidden,
        excluded_llm_metadata_keys=hidden,
    )


class Index:
    """One Chroma collection holding chunks of abstracts, with the embedding model recorded."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._client: Any = None

    # -- connection -----------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            ix = self.settings.index
            try:
                if ix.chroma_host:
                    self._client = chromadb.HttpClient(
                        host=ix.chroma_host,
                        port=ix.chroma_port,
                        settings=ChromaSettings(anonymized_telemetry=False),
                    )
                    self._client.heartbeat()
                else:
                    self.settings.chroma_path.mkdir(parents=True, exist_ok=True)
                    self._client = chromadb.PersistentClient(
                        path=str(self.settings.chroma_path),
                        settings=ChromaSettings(anonymized_telemetry=False),
                    )
            except (ChromaError, ValueError, OSError, RuntimeError) as exc:
                self._client = None
                raise StoreError(
                    f"cannot open the Chroma store at {self.settings.store_location} ({exc}); "
                    "check RAG_DATA_DIR or start the server with `chroma run`"
                ) from exc
        return self._client

    def collection(self, create: bool = False, dim: int | None = None) -> Any:
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
        recorded = (col.metadata or {}).get("embedding_model")
        if recorded and recorded != identity:
            raise EmbeddingMismatchError(
                f"the index at {self.settings.store_location} was built with embeddings '{recorded}' "
                f"but settings ask for '{identity}': run `rag ingest --rebuild` to re-embed, "
                f"or set the embedding settings back"
            )
        return col

    def vector_store(self, col: Any | None = None) -> ChromaVectorStore:
        return ChromaVectorStore(chroma_collection=col or self.collection())

    # -- reading ----------------------------------------------------------------------
    def iter_chunks(self, col: Any | None = None, include_documents: bool = True) -> Iterable[tuple[str, str, dict]]:
        """(chunk id, text, metadata) for every chunk, paged so large stores stay cheap."""
        col = col or self.collection()
        include = ["metadatas", "documents"] if include_documents else ["metadatas"]
        offset = 0
        while True:
            page = col.get(include=include, limit=_PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            docs = page.get("documents") or [""] * len(ids)
            for cid, doc, meta in zip(ids, docs, page["metadatas"]):
                yield cid, doc or "", dict(meta or {})
            offset += len(ids)

    def catalog(self, col: Any | None = None) -> dict[str, dict]:
        """paper_id -> metadata of its first chunk (title, date, sources, hash...)."""
        papers: dict[str, dict] = {}
        for _, _, meta in self.iter_chunks(col, include_documents=False):
            papers.setdefault(meta.get("paper_id", ""), meta)
        papers.pop("", None)
        return papers

    def stats(self) -> Stats:
        col = self.collection()
        cat = self.catalog(col)
        sources: dict[str, int] = {}
        for meta in cat.values():
            for s in filter(None, str(meta.get("sources", "")).split("|")):
                sources[s] = sources.get(s, 0) + 1
        md = col.metadata or {}
        return Stats(
            papers=len(cat),
            chunks=col.count(),
            embedding_model=md.get("embedding_model"),
            embedding_dim=md.get("embedding_dim") or None,
            store=self.settings.store_location,
            collection=self.settings.index.collection,
            sources=dict(sorted(sources.items())),
        )

    # -- writing ----------------------------------------------------------------------
    def splitter(self) -> SentenceSplitter:
        return SentenceSplitter(
            chunk_size=self.settings.index.chunk_size,
            chunk_overlap=self.settings.index.chunk_overlap,
            tokenizer=tokenizer(),
        )

    def drop(self) -> None:
        try:
            self.client.delete_collection(self.settings.index.collection)
        except (NotFoundError, ValueError):
            pass

    def ingest(
        self, paths: Iterable[Path] | None = None, *, rebuild: bool = False, progress: bool = False
    ) -> IngestReport:
        """Parse, deduplicate, and write only what changed. Embeds everything before writing."""
        start = time.perf_counter()
        papers, entries, skips, nfiles = load_corpus(paths, self.settings.index.max_file_bytes)
        report = IngestReport(
            files=nfiles,
            entries=len(entries),
            papers=len(papers),
            skipped=[SkippedItem(source=s.source, line=s.line, reason=s.reason) for s in skips],
        )
        if rebuild:
            self.drop()
        try:
            col = self.collection(create=False)
        except IndexMissingError:
            probe = get_embedder(self.settings).get_text_embedding("dimension probe")
            col = self.collection(create=True, dim=len(probe))
        existing = self.catalog(col)

        docs: list[Document] = []
        replaced: list[str] = []
        for paper in papers:
            old = existing.get(paper.paper_id)
            if old:
                old_sources = [s for s in str(old.get("sources", "")).split("|") if s]
                paper.sources = sorted(set(paper.sources) | set(old_sources))
            digest = content_hash(paper, self.settings)
            if old and old.get("content_hash") == digest:
                report.unchanged += 1
                continue
            if old:
                report.updated += 1
                replaced.append(paper.paper_id)
            else:
                report.added += 1
            docs.append(_document(paper, digest))

        if docs:
            nodes: list[BaseNode] = self.splitter().get_nodes_from_documents(docs)
            texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
            vectors = get_embedder(self.settings).get_text_embedding_batch(texts, show_progress=progress)
            for node, vec in zip(nodes, vectors):
                node.embedding = vec
            store = self.vector_store(col)
            for pid in replaced:
                store.delete(ref_doc_id=pid)
            store.add(nodes)
            report.chunks_written = len(nodes)
        report.seconds = round(time.perf_counter() - start, 3)
        return report
