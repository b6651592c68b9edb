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


def test_mean_pooling_folders_are_recognised_and_others_are_not(tmp_path):
    import json
    import shutil

    from rag.embeddings import _local_model_path
    from rag.meanpool import is_mean_pooling

    src = _local_model_path("all-MiniLM-L6-v2")
    assert is_mean_pooling(src)
    cls = tmp_path / "cls"
    shutil.copytree(src, cls)
    cfg = json.loads((cls / "1_Pooling" / "config.json").read_text())
    cfg.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (cls / "1_Pooling" / "config.json").write_text(json.dumps(cfg))
    assert not is_mean_pooling(cls)
    dense = tmp_path / "dense"
    shutil.copytree(src, dense)
    modules = json.loads((dense / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (dense / "modules.json").write_text(json.dumps(modules))
    assert not is_mean_pooling(dense)
    (tmp_path / "broken").mkdir()
    assert not is_mean_pooling(tmp_path / "broken")


@pytest.mark.slow
def test_a_cls_pooling_folder_stays_on_sentence_transformers(tmp_path):
    import json
    import shutil

    from sentence_transformers import SentenceTransformer

    from rag.embeddings import LocalEncoder, _local_model_path

    folder = tmp_path / "cls"
    shutil.copytree(_local_model_path("all-MiniLM-L6-v2"), folder)
    cfg = json.loads((folder / "1_Pooling" / "config.json").read_text())
    cfg.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(cfg))
    encoder = LocalEncoder(folder, None, 8, 1, "fp32", onnx=False)
    got = encoder.encode_batch([CHUNK, QUESTIONS[0]])
    assert encoder._st is not None and not encoder._models
    ref = SentenceTransformer(str(folder), device="cpu").encode([CHUNK, QUESTIONS[0]], normalize_embeddings=True)
    assert (got * ref).sum(axis=1).min() >= 0.9999
    mean = LocalEncoder(_local_model_path("all-MiniLM-L6-v2"), None, 8, 1, "fp32", onnx=False)
    assert (mean.encode_batch([CHUNK])[0] @ got[0]) < 0.999, "CLS pooling really is a different vector"


def test_question_tokenizer_gives_transformers_ids_and_masks():
    """The ONNX question path tokenizes with `tokenizers` directly; it must feed the graph what
    transformers' AutoTokenizer would (padding to the longest, truncation at max_seq_length)."""
    from transformers import AutoTokenizer

    from rag.corpus.loader import load_corpus
    from rag.embeddings import PACKAGED_MINILM, _local_model_path, fast_tokenizer

    path = _local_model_path(PACKAGED_MINILM)
    auto = AutoTokenizer.from_pretrained(str(path))
    fast = fast_tokenizer(path, 256)
    papers, _, _, _ = load_corpus(None, 10**8)
    texts = [p.abstract for p in papers[:60]] + [p.title for p in papers[:60]]
    texts += ["", "  ", "héllo wörld ﬁ ½ 🙂 日本語", "word " * 600, "How many GPUs?"]
    names = ["input_ids", "attention_mask", "token_type_ids"]
    for i in range(0, len(texts), 7):
        batch = texts[i : i + 7]
        want = auto(batch, padding=True, truncation=True, max_length=256, return_tensors="np")
        got = fast(batch, names)
        for k in names:
            np.testing.assert_array_equal(got[k], np.asarray(want[k], dtype=np.int64))
    assert fast(["word " * 600], names)["input_ids"].shape == (1, 256)


@pytest.mark.slow
def test_a_fresh_process_answers_its_first_question_without_torch(small_index):
    """Loading torch cost a fresh process (`rag ask`) 1.6 s before its first retrieval. (The first
    process on a data folder exports the ONNX graph with torch, once; the next ones must not load it.)"""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from rag import retrieve\n"
        "from rag.settings import Settings\n"
        f"s = Settings(_env_file=None, data_dir=Path({str(small_index.data_dir)!r}))\n"
        "assert retrieve('transformer language models', settings=s)\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_model_identity_names_the_preset_once_and_apart_from_other_models(tmp_path):
    from rag.embeddings import model_identity

    def identity(**embedding) -> str:
        return model_identity(make_settings(tmp_path / "data", embedding=embedding))

    mpnet = identity(model="all-mpnet-base-v2")
    assert mpnet == "local:all-mpnet-base-v2" == identity(model="sentence-transformers/all-mpnet-base-v2")
    assert mpnet != identity() == "local:all-MiniLM-L6-v2"
    assert mpnet != identity(model=str(tmp_path / "all-mpnet-base-v2"))  # a hand-made folder is another model
    assert identity(provider="openai", model="all-mpnet-base-v2") == "openai:all-mpnet-base-v2"


def test_the_preset_name_resolves_to_a_folder_assembled_in_the_data_dir(tmp_path, monkeypatch):
    from conftest import make_zip_preset
    from rag import embedding_presets
    from rag.embedding_presets import PRESETS
    from rag.embeddings import _local_model_path

    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    fake = make_zip_preset(tmp_path / "site", {"fakemodel/modules.json": b"[]"}, pieces=2)
    monkeypatch.setitem(PRESETS, "all-mpnet-base-v2", fake)
    embedding_presets._trusted.clear()
    folder = _local_model_path("all-mpnet-base-v2", tmp_path / "data" / "models")
    assert folder == tmp_path / "data" / "models" / "fakemodel" and (folder / "modules.json").is_file()


@pytest.mark.slow
def test_mpnet_preset_from_the_real_parts_embeds(tmp_path):
    """Assembled from the five installed PyPI parts into a fresh data dir, loaded, 768-d unit vectors."""
    import importlib.metadata

    from rag.embedding_presets import MPNET, is_trusted
    from rag.embeddings import _local

    try:
        for part in MPNET.parts:
            importlib.metadata.distribution(part.distribution)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the all-mpnet-base-v2 parts are not installed (./scripts/setup.sh --mpnet, ~400 MB; CI skips)")
    s = make_settings(tmp_path / "data", embedding={"model": "all-mpnet-base-v2", "onnx": False})
    try:
        vecs = embed_texts(s, ["A cat sits on the mat.", "A kitten is sitting on a rug."])
        q = embed_query(s, "stock markets fell sharply on Monday")
    finally:
        _local.cache_clear()  # do not keep 440 MB of weights for the rest of the session
    folder = tmp_path / "data" / "models" / "all-mpnet-base-v2"
    assert is_trusted(folder, MPNET) and (folder / "1_Pooling" / "config.json").is_file()
    assert vecs.shape == (2, 768) and q.shape == (768,)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
    assert float(vecs[0] @ vecs[1]) > 0.6 > float(vecs[0] @ q)
