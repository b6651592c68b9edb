"""Hybrid retrieval over the published view: dense + BM25 (bm25s), fused, one passage per paper.

Everything a question needs is in the current view (rag/store/view.py): the chunk vectors (exact
cosine search with one matrix-vector product; large stores probe an approximate index instead,
rag/store/ann.py), the saved bm25s index, and per-paper arrays for the
filters. Checking for a newer version is one `stat`, so no per-question work grows with the store
except the two scoring passes themselves.

RRF is computed here rather than with llama-index's QueryFusionRetriever because that one fixes
k=60, resolves an LLM even for a single query, and identifies nodes by content hash; we need a
configurable k, filters applied to both sides, and per-paper diversity after fusion.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from rag.embeddings import embed_query
from rag.index import Index, date_int
from rag.lexical import content_stems
from rag.models import Filters, Passage, RetrievalMode
from rag.settings import Settings
from rag.store import ann
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


@lru_cache(maxsize=1)
def _blas():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


class RowScores:
    """Cosine of the question to any chunk rows, computed on demand: `scores[rows]`, like an array.

    What the fusion reads for the other retriever's candidates when the dense side probed the
    approximate index instead of scoring every chunk.
    """

    def __init__(self, vectors: np.ndarray, query: np.ndarray) -> None:
        self.vectors, self.query = vectors, query

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        order = np.argsort(rows)  # read the memory-mapped vectors in file order
        out = np.empty(len(rows), dtype=np.float32)
        out[order] = np.asarray(self.vectors[rows[order]]) @ self.query
        return out


def _query_vector(settings: Settings, question: str) -> np.ndarray:
    q = np.asarray(embed_query(settings, question), dtype=np.float32)
    return q / max(float(np.linalg.norm(q)), 1e-12)


def _exact(view: View, q: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Cosine similarity of every chunk to the question (-inf where filtered out).

    The product runs on one BLAS thread: it is memory-bound, and a second thread only helps on an
    idle machine; on a busy 2-core one, OpenBLAS's spinning threads made it 8x slower (15.5k chunks:
    16 ms with 2 threads, 2.0 ms with 1; scripts/measure_scale.py).
    """
    with _blas().limit(limits=1):
        sims = np.asarray(view.vectors) @ q
    return np.where(mask, sims, -np.inf) if mask is not None else sims


def _dense(
    view: View, settings: Settings, question: str, mask: np.ndarray | None, n: int
) -> tuple[list[tuple[int, float]], RowScores | np.ndarray]:
    """(the n best chunks as (row, cosine), the cosine of any row) for the question.

    A store with an approximate index (rag/store/ann.py) probes it; when the filter leaves fewer
    chunks in the probed clusters than asked for, the allowed chunks are few and are scanned exactly.
    """
    q = _query_vector(settings, question)
    index = view.ann if settings.retrieval.ann_min_chunks else None
    if index is not None:
        scores = RowScores(view.vectors, q)
        found = ann.search(index, q, n, settings.retrieval.ann_probe, mask)
        allowed = view.n_chunks if mask is None else int(mask.sum())
        if len(found) >= min(n, allowed):
            return found, scores
        if mask is not None:
            rows = np.flatnonzero(mask)
            sims = scores[rows]
            return [(int(rows[i]), float(sims[i])) for i in _top(sims, n)], scores
    sims = _exact(view, q, mask)
    return _ranking(sims, n, -np.inf), sims


def _bm25_scores(view: View, question: str, mask: np.ndarray | None) -> np.ndarray | None:
    """BM25 score of every chunk (0 where filtered out), None when no question word is in the index."""
    bm25 = view.bm25
    if bm25 is None:
        return None
    ids = bm25.get_tokens_ids(content_stems(question))
    if not ids:
        return None
    return np.asarray(bm25.get_scores_from_ids(ids, weight_mask=mask), dtype=np.float32)


def _ranking(scores: np.ndarray | None, n: int, floor: float) -> list[tuple[int, float]]:
    if scores is None:
        return []
    return [(int(i), float(scores[i])) for i in _top(scores, n) if scores[i] > floor]


def rrf(rankings: list[list[tuple]], k: int) -> dict:
    """Reciprocal rank fusion: sum of 1/(k + rank) over the rankings an item appears in."""
    fused: dict = {}
    for ranking in rankings:
        for rank, (item, _) in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


def zscore_fusion(
    dense: list[tuple[int, float]],
    lexical: list[tuple[int, float]],
    dense_all: np.ndarray | RowScores | None,
    bm25_all: np.ndarray | None,
    weight: float,
) -> dict[int, float]:
    """w * z(dense) + (1 - w) * z(BM25) over the union of both candidate lists.

    Each retriever's scores are standardised by the mean and spread of its own top candidates, so a
    paper that one retriever ranks far above its usual scores (a rare exact term, a near-paraphrase)
    is not outvoted by papers both rank in the middle, as happens with reciprocal ranks.
    """
    rows = np.fromiter(dict.fromkeys([i for i, _ in dense] + [i for i, _ in lexical]), dtype=np.int64)
    if not len(rows):
        return {}

    def z(all_scores: np.ndarray | RowScores | None, ranking: list[tuple[int, float]]) -> np.ndarray:
        if all_scores is None or not ranking:
            return np.zeros(len(rows))
        ref = np.asarray([s for _, s in ranking], dtype=np.float64)
        return (np.asarray(all_scores[rows], dtype=np.float64) - ref.mean()) / max(float(ref.std()), 1e-9)

    fused = weight * z(dense_all, dense) + (1.0 - weight) * z(bm25_all, lexical)
    return {int(r): float(f) for r, f in zip(rows, fused)}


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

    dense, dense_all = _dense(view, settings, question, mask, n) if mode in ("hybrid", "dense") else ([], None)
    bm25_all = _bm25_scores(view, question, mask) if mode in ("hybrid", "bm25") else None
    lexical = _ranking(bm25_all, n, 0.0)
    fusion = cfg.fusion if mode == "hybrid" else mode  # what the scores are: zscore, rrf, dense or bm25
    if fusion == "zscore":
        scores = zscore_fusion(dense, lexical, dense_all, bm25_all, cfg.dense_weight)
    elif fusion == "rrf":
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
                    "fusion": fusion,
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
