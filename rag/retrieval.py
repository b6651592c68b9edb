"""Hybrid retrieval: dense (Chroma) + BM25 (bm25s), fused by reciprocal rank, diversified by paper.

RRF is computed here rather than with llama-index's QueryFusionRetriever because that one fixes
k=60, resolves an LLM even for a single query, and identifies nodes by content hash; we need a
configurable k, filters applied to both sides, and per-paper diversity after fusion.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import bm25s
import numpy as np
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

from rag.embeddings import get_embedder
from rag.index import Index, date_int
from rag.lexical import STEMMER, STOPWORDS, content_stems
from rag.models import Filters, Passage, RetrievalMode
from rag.settings import Settings


def _bm25_tokens(texts: list[str]) -> Any:
    return bm25s.tokenize(texts, stopwords=STOPWORDS, stemmer=STEMMER, show_progress=False)


@dataclass
class ChunkTable:
    """Every chunk of the store in memory, for BM25 and for filter masks."""

    ids: list[str]
    texts: list[str]
    metas: list[dict]
    fingerprint: str
    bm25: Any = None
    position: dict[str, int] = field(default_factory=dict)
    _df: dict[str, int] | None = None

    @property
    def df(self) -> dict[str, int]:
        """Document frequency of stemmed words over chunks (title included), for IDF weights."""
        if self._df is None:
            df: dict[str, int] = {}
            for t, m in zip(self.texts, self.metas):
                for w in set(content_stems(f"{m.get('title', '')} {t}")):
                    df[w] = df.get(w, 0) + 1
            self._df = df
        return self._df

    @classmethod
    def load(cls, index: Index, col: Any, fingerprint: str) -> ChunkTable:
        ids, texts, metas = [], [], []
        for cid, text, meta in index.iter_chunks(col):
            ids.append(cid)
            texts.append(text)
            metas.append(meta)
        table = cls(ids, texts, metas, fingerprint, position={c: i for i, c in enumerate(ids)})
        if ids:
            # the title travels with every chunk, for BM25 as for the embeddings
            corpus = [f"{m.get('title', '')}\n\n{t}" for t, m in zip(texts, metas)]
            table.bm25 = bm25s.BM25()
            table.bm25.index(_bm25_tokens(corpus), show_progress=False)
        return table

    def mask(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None or filters.is_empty():
            return None
        lo = date_int(filters.date_from.isoformat()) if filters.date_from else None
        hi = date_int(filters.date_to.isoformat()) if filters.date_to else None
        wanted = set(filters.sources or [])
        keep = np.zeros(len(self.ids), dtype=float)
        for i, m in enumerate(self.metas):
            d = int(m.get("date_int") or 0)
            if (lo or hi) and not d:
                continue  # undated papers cannot satisfy a date filter
            if lo and d < lo or hi and d > hi:
                continue
            if wanted and not wanted & set(str(m.get("sources", "")).split("|")):
                continue
            keep[i] = 1.0
        return keep


_TABLES: dict[tuple[str, str], ChunkTable] = {}


def _table(index: Index, col: Any) -> ChunkTable:
    """The cached chunk table, reloaded when the collection's chunk ids change."""
    ids = col.get(include=[])["ids"]
    fingerprint = hashlib.sha1("\n".join(sorted(ids)).encode()).hexdigest()
    key = (index.settings.store_location, index.settings.index.collection)
    table = _TABLES.get(key)
    if table is None or table.fingerprint != fingerprint:
        table = _TABLES[key] = ChunkTable.load(index, col, fingerprint)
    return table


def _dense(index: Index, col: Any, question: str, n: int, allowed: list[str] | None) -> list[tuple[str, float]]:
    """(chunk id, cosine similarity) best first."""
    if allowed is not None and not allowed:
        return []
    vector = get_embedder(index.settings).get_query_embedding(question)
    filters = None
    if allowed is not None:
        filters = MetadataFilters(
            filters=[MetadataFilter(key="paper_id", value=allowed, operator=FilterOperator.IN)]
        )
    result = index.vector_store(col).query(
        VectorStoreQuery(query_embedding=vector, similarity_top_k=n, filters=filters)
    )
    # ChromaVectorStore reports exp(-distance); with cosine space distance = 1 - cos.
    return [
        (cid, 1.0 + math.log(max(sim, 1e-12)))
        for cid, sim in zip(result.ids or [], result.similarities or [])
    ]


def _bm25(table: ChunkTable, question: str, n: int, mask: np.ndarray | None) -> list[tuple[str, float]]:
    if table.bm25 is None:
        return []
    tokens = _bm25_tokens([question])
    if not tokens.vocab:
        return []
    k = min(n, len(table.ids))
    docs, scores = table.bm25.retrieve(tokens, k=k, weight_mask=mask, show_progress=False)
    return [
        (table.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if float(s) > 0.0
    ]


def rrf(rankings: list[list[tuple[str, float]]], k: int) -> dict[str, float]:
    """Reciprocal rank fusion: sum of 1/(k + rank) over the rankings an item appears in."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, (cid, _) in enumerate(ranking, start=1):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (k + rank)
    return fused


def retrieve_passages(
    settings: Settings,
    question: str,
    k: int | None = None,
    filters: Filters | None = None,
    mode: RetrievalMode | None = None,
) -> list[Passage]:
    """Top-k papers' best passages for the question, best first."""
    cfg = settings.retrieval
    k = k or cfg.k
    mode = mode or cfg.mode
    index = Index(settings)
    col = index.collection()
    table = _table(index, col)
    if not table.ids:
        return []
    mask = table.mask(filters)
    allowed = None
    if mask is not None:
        allowed = sorted({table.metas[i]["paper_id"] for i in np.flatnonzero(mask)})
    n = max(cfg.candidates, k * 4)

    dense = _dense(index, col, question, n, allowed) if mode in ("hybrid", "dense") else []
    lexical = _bm25(table, question, n, mask) if mode in ("hybrid", "bm25") else []
    if mode == "hybrid":
        scores = rrf([dense, lexical], cfg.rrf_k)
    else:
        scores = dict(dense or lexical)
    dense_sim = dict(dense)
    bm25_score = dict(lexical)

    # Paper-level diversity: a paper enters once, through its best chunk, carrying its whole abstract.
    seen: set[str] = set()
    out: list[Passage] = []
    for cid in sorted(scores, key=scores.__getitem__, reverse=True):
        i = table.position.get(cid)
        if i is None or table.metas[i]["paper_id"] in seen:
            continue
        meta = table.metas[i]
        pid = meta["paper_id"]
        seen.add(pid)
        out.append(
            Passage(
                paper_id=pid,
                title=meta.get("title", ""),
                text=meta.get("abstract") or table.texts[i],
                score=round(scores[cid], 6),
                chunk_id=cid,
                metadata={
                    "date": meta.get("date") or None,
                    "date_text": meta.get("date_text") or None,
                    "sources": [s for s in str(meta.get("sources", "")).split("|") if s],
                    "n_authors": meta.get("n_authors") or None,
                    "dense_similarity": dense_sim.get(cid),
                    "bm25": bm25_score.get(cid),
                    "matched_chunk": table.texts[i],
                },
            )
        )
        if len(out) >= k:
            break
    return out


def vocabulary(settings: Settings) -> tuple[dict[str, int], int]:
    """(document frequencies, number of chunks) of the store, from the table the last retrieval checked.

    Answering always retrieves first, and that call already re-read the store's chunk ids; scanning
    them again here would double the per-question store round trip for no fresher data.
    """
    table = _TABLES.get((settings.store_location, settings.index.collection))
    if table is None:
        index = Index(settings)
        table = _table(index, index.collection())
    return table.df, len(table.ids)
