"""The approximate dense index of large stores (rag/store/ann.py) and how retrieval uses it.

The bundled corpus (577 chunks) is far below the default size for an index, so these tests republish
the real full index's vectors into a second view with `ann_min_chunks` lowered: real MiniLM vectors,
real faiss, no re-embedding.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import ROOT, make_settings
from rag import Filters, retrieve
from rag.corpus.records import paper_id_for
from rag.retrieval import RowScores
from rag.store import ann
from rag.store import view as views


def test_row_scores_match_the_full_product_in_any_row_order():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    q = rng.normal(size=8).astype(np.float32)
    rows = np.array([31, 2, 47, 2, 0])
    np.testing.assert_allclose(RowScores(vectors, q)[rows], (vectors @ q)[rows], rtol=1e-6)


@pytest.mark.parametrize(("n", "lists"), [(1, 1), (100, 2), (577, 14), (155_524, 1577)])
def test_cluster_count_follows_the_store_size(n, lists):
    assert ann.n_lists(n) == lists


def _republish(full_index, tmp_path, **retrieval):
    """The full index's view published again under settings with an approximate index."""
    s = make_settings(tmp_path / "data", retrieval={"ann_min_chunks": 100, **retrieval})
    old = views.current(full_index)
    views.publish(s, old, list(range(old.n_papers)), [], dict(old.meta), int(old.meta["embedding_dim"]), 1)
    return s



@pytest.mark.slow
def test_small_stores_get_no_index(full_index):
    view = views.current(full_index)
    assert view.ann is None and "ann" not in view.meta
    assert not (view.folder / ann.FILE).exists()


@pytest.mark.slow
def test_probing_few_clusters_keeps_recall_and_exact_scores(full_index, tmp_path):
    s = _republish(full_index, tmp_path, ann_probe=4)  # 4 of 14 clusters: a real approximation
    view = views.current(s)
    assert view.meta["ann"]["lists"] == 14 and view.ann is not None
    items = [json.loads(x) for x in (ROOT / "eval" / "gold.jsonl").read_text().splitlines()]
    items = [it for it in items if it["answerable"]]
    recall, exact_recall = 0.0, 0.0
    for it in items:
        gold = {paper_id_for(t) for t in it["gold_titles"]}
        got = retrieve(it["question"], k=5, settings=s)
        exact = retrieve(it["question"], k=5, settings=full_index)
        recall += len(gold & {p.paper_id for p in got}) / len(gold)
        exact_recall += len(gold & {p.paper_id for p in exact}) / len(gold)
        exact_sims = {p.chunk_id: p.metadata["dense_similarity"] for p in exact}
        for p in got:  # the index returns exact cosines, not approximations of them
            if p.metadata["dense_similarity"] is not None and p.chunk_id in exact_sims:
                assert p.metadata["dense_similarity"] == pytest.approx(exact_sims[p.chunk_id], abs=1e-5)
    assert recall / len(items) >= exact_recall / len(items) - 0.02
    assert recall / len(items) >= 0.90


@pytest.mark.slow
def test_a_narrow_filter_falls_back_to_an_exact_scan_of_what_it_allows(full_index, tmp_path):
    s = _republish(full_index, tmp_path, ann_probe=1)  # one cluster holds few of the filtered papers
    f = {"sources": ["003_892aac2a92dcd127.txt"]}
    got = retrieve("retrieval", k=5, filters=f, settings=s, mode="dense")
    exact = retrieve("retrieval", k=5, filters=f, settings=full_index, mode="dense")
    assert [p.paper_id for p in got] == [p.paper_id for p in exact]
    assert got and all("003_892aac2a92dcd127.txt" in p.metadata["sources"] for p in got)


@pytest.mark.slow
def test_filters_apply_inside_the_index(full_index, tmp_path):
    s = _republish(full_index, tmp_path)
    f = Filters(date_from="2024-01-01", date_to="2024-12-31")
    got = retrieve("linear attention", k=5, filters=f, settings=s)
    assert got and all(p.metadata["date"] and "2024-01-01" <= p.metadata["date"] <= "2024-12-31" for p in got)


@pytest.mark.slow
def test_setting_zero_scans_exactly_even_when_the_store_has_an_index(full_index, tmp_path, monkeypatch):
    s = _republish(full_index, tmp_path, ann_probe=1)
    exact_settings = s.model_copy(update={"retrieval": s.retrieval.model_copy(update={"ann_min_chunks": 0})})

    def no_probe(*_a, **_k):
        raise AssertionError("the approximate index was probed")

    monkeypatch.setattr(ann, "search", no_probe)
    q = "hardware-efficient training algorithm for transformers with the delta update rule"
    got = retrieve(q, k=5, settings=exact_settings)
    assert [p.paper_id for p in got] == [p.paper_id for p in retrieve(q, k=5, settings=full_index)]
    with pytest.raises(AssertionError, match="probed"):
        retrieve(q, k=5, settings=s)
