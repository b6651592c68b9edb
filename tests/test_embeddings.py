"""The local embedding engines agree with plain sentence-transformers fp32 (the vectors the store was tuned on)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_settings
from rag.embeddings import embed_query, embed_texts, get_embedder
from rag.retrieval import rrf, zscore_fusion

QUESTIONS = [
    "which papers make linear attention fast on GPUs?",
    "Can you get better sentence vectors from a left-to-right LLM by showing it the same text twice?",
    "retrieval heads",
]
CHUNK = (
    "title: Parallelizing Linear Transformers with the Delta Rule over Sequence Length\n\n"
    "Transformers with linear attention (i.e., linear transformers) and state-space models have recently been "
    "suggested as a viable linear-time alternative to transformers with softmax attention. " * 3
)


def _reference(texts: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    from rag.embeddings import _local_model_path

    st = SentenceTransformer(str(_local_model_path("all-MiniLM-L6-v2")), device="cpu")
    return st.encode(texts, normalize_embeddings=True)


@pytest.mark.slow
def test_onnx_questions_and_bf16_batches_match_fp32_vectors(tmp_path):
    s = make_settings(tmp_path / "data")
    ref = _reference([*QUESTIONS, CHUNK])
    q = np.stack([embed_query(s, x) for x in QUESTIONS])
    encoder = get_embedder(s).encoder
    assert encoder._session is not None, "questions went through ONNX Runtime"
    # the encoder is shared by the process: the first data folder it served keeps the exported graph
    assert encoder._onnx_file() is not None and encoder._onnx_file().is_file(), "the exported graph is cached"
    assert (q * ref[:3]).sum(axis=1).min() >= 0.999
    docs = embed_texts(s, [*QUESTIONS, CHUNK])
    assert (docs * ref).sum(axis=1).min() >= 0.999
    assert embed_query(s, QUESTIONS[0]) is embed_query(s, QUESTIONS[0])  # recent questions are cached


def test_zscore_fusion_lets_a_standout_hit_beat_middling_agreement():
    # dense: item 1 first, item 7 fourth; BM25: item 7 far above its usual scores, item 1 second
    dense = [(1, 0.60), (2, 0.58), (3, 0.55), (7, 0.54), (4, 0.50)]
    lexical = [(7, 30.0), (1, 9.0), (5, 8.5), (6, 8.4), (2, 8.0)]
    dense_all = np.zeros(8, dtype=np.float32)
    for i, v in dense:
        dense_all[i] = v
    dense_all[5], dense_all[6] = 0.3, 0.3
    bm25_all = np.zeros(8, dtype=np.float32)
    for i, v in lexical:
        bm25_all[i] = v
    fused = zscore_fusion(dense, lexical, dense_all, bm25_all, 0.5)
    assert max(fused, key=fused.get) == 7
    ranks = rrf([dense, lexical], 60)
    assert max(ranks, key=ranks.get) == 1  # reciprocal ranks let the agreement on item 1 win
    assert set(fused) == {1, 2, 3, 4, 5, 6, 7}
    only_dense = zscore_fusion(dense, [], dense_all, None, 0.5)
    assert max(only_dense, key=only_dense.get) == 1
