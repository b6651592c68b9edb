"""Hybrid retrieval over the published view: dense + BM25 (bm25s), fused by reciprocal rank, one passage per paper.

Everything a question needs is in the current view (rag/store/view.py): the chunk vectors (exact
cosine search with one matrix-vector product), the saved bm25s index, and per-paper arrays for the
filters. Checking for a newer version is one `stat`, so no per-question work grows with the store
except the two scoring passes themselves.

RRF is computed here rather than with llama-index's QueryFusionRetriever because that one fixes
k=60, resolves an LLM even for a single query, and identifies nodes by content hash; we need a
configurable k, filters applied to both sides, and per-paper diversity after fusion.
"""

from __future__ import annotations

import numpy as np

from rag.embeddings import embed_query
from rag.index import Index, date_int
from rag.lexical import content_stems
from rag.models import Filters, Passage, RetrievalMode
from rag.settings import Settings
from rag.store.view import View


def chunk_mask(view: View, filters: Filters | None) -> np.ndarray | None:
    """Boolean per chunk (None: no filter), from per-paper date and source arrays (numpy, no Python loop)."""
    if filters is None or filters.is_empty():
        return None
    keep = np.ones(view.n_papers, dtype=bool)
    if filters.date_from or filters.date_to:
        dates = np.asarray(view.paper_date)
        keep &= dates > 0  # undated papers cannot satisfy a date filter
        if filters.date_from:
            keep &= dates >= date_int(filters.date_from.isoformat())
        if filters.date_to:
            keep &= dates <= date_int(filters.date_to.isoformat())
    if filters.sources:
        chosen = np.zeros(view.n_papers, dtype=bool)
        chosen[view.papers_of_sources(list(filters.sources))] = True
        keep &= chosen
    return keep[np.asarray(view.chunk_paper)]


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    n = min(n, len(scores))
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n]
    return part[np.argsort(-scores[part], kind="stable")]


def _dense(view: View, settings: Settings, question: str, n: int, mask: np.ndarray | None) -> list[tuple[int, float]]:
    """(chunk row, cosine similarity) best first."""
    q = np.asarray(embed_query(settings, question), dtype=np.float32)
    q = q / max(float(np.linalg.norm(q)), 1e-12)
    sims = view.vectors @ q
    if mask is not None:
        sims = np.where(mask, sims, -np.inf)
    return [(int(i), float(sims[i])) for i in _top(sims, n) if np.isfinite(sims[i])]


def _bm25(view: View, question: str, n: int, mask: np.ndarray | None) -> list[tuple[int, float]]:
    bm25 = view.bm25
    if bm25 is None:
        return []
    ids = bm25.get_tokens_ids([w for w in content_stems(question)])
    if not ids:
        return []
    scores = bm25.get_scores_from_ids(ids, weight_mask=mask)
    return [(int(i), float(scores[i])) for i in _top(scores, n) if scores[i] > 0.0]


def rrf(rankings: list[list[tuple]], k: int) -> dict:
    """Reciprocal rank fusion: sum of 1/(k + rank) over the rankings an item appears in."""
    fused: dict = {}
    for ranking in rankings:
        for rank, (item, _) in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
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
    view = Index(settings).view()
    if not view.n_chunks:
        return []
    mask = chunk_mask(view, filters)
    if mask is not None and not mask.any():
        return []
    n = max(cfg.candidates, k * 4)

    dense = _dense(view, settings, question, n, mask) if mode in ("hybrid", "dense") else []
    lexical = _bm25(view, question, n, mask) if mode in ("hybrid", "bm25") else []
    if mode == "hybrid":
        scores = rrf([dense, lexical], cfg.rrf_k)
    else:
        scores = dict(dense or lexical)
    dense_sim = dict(dense)
    bm25_score = dict(lexical)

    # Paper-level diversity: a paper enters once, through its best chunk, carrying its whole abstract.
    seen: set[int] = set()
    out: list[Passage] = []
    for row in sorted(scores, key=scores.__getitem__, reverse=True):
        p = int(view.chunk_paper[row])
        if p in seen:
            continue
        seen.add(p)
        rec = view.paper_record(p)
        chunk_text = view.chunk_texts[row]
        out.append(
            Passage(
                paper_id=rec["paper_id"],
                title=rec["title"],
                text=rec["abstract"] or chunk_text,
                score=round(scores[row], 6),
                chunk_id=view.chunk_ids[row],
                metadata={
                    "date": rec["date"] or None,
                    "date_text": rec["date_text"] or None,
                    "sources": rec["sources"],
                    "n_authors": rec["n_authors"],
                    "dense_similarity": dense_sim.get(row),
                    "bm25": bm25_score.get(row),
                    "matched_chunk": chunk_text,
                },
            )
        )
        if len(out) >= k:
            break
    return out


def vocabulary(settings: Settings) -> tuple[dict[str, int], int]:
    """(document frequencies of stemmed words over chunks, number of chunks), precomputed at publish time."""
    view = Index(settings).view()
    return view.df, view.n_chunks
