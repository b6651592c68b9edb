"""Embeddings from an OpenAI-compatible embedding server: llama-cpp-python's real server with --embedding.

The model is the packaged Qwen2.5-Coder-0.5B GGUF (a small causal LM, not an embedding model: its
vectors are mean-pooled token states and only good enough to find an exact title). The point is
the transport: batches, concurrent requests, per-token output pooled, the store recording the model.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import free_port, make_settings, write_small_corpus
from rag import ingest, retrieve, stats
from rag.embeddings import embed_texts
from rag.errors import ModelUnavailableError

pytestmark = pytest.mark.slow  # a real llama.cpp server


@pytest.fixture(scope="module")
def embedding_server(tmp_path_factory, qwen05):
    """The real llama.cpp server with --embedding on the packaged 0.5B GGUF; yields its /v1 URL."""
    from conftest import llama_server

    with llama_server(qwen05, tmp_path_factory.mktemp("emb-server") / "server.log", "--embedding", "true") as url:
        yield url


def _settings(tmp_path, url: str):
    embedding = {"provider": "server", "base_url": url, "model": "qwen-0.5b", "batch_size": 2, "concurrency": 3}
    return make_settings(tmp_path / "data", embedding=embedding)


def test_batches_in_parallel_keep_their_order(tmp_path, embedding_server):
    s = _settings(tmp_path, embedding_server)
    texts = [f"text number {i} about {topic}" for i, topic in enumerate(["cats", "rockets", "bread", "rain", "chess"])]
    together = embed_texts(s, texts)  # 3 requests of up to 2 texts, 3 at once
    alone = np.stack([embed_texts(s, [t])[0] for t in texts])
    assert together.shape == (5, alone.shape[1]) and alone.shape[1] > 100
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.allclose((together * alone).sum(axis=1), 1.0, atol=1e-4)


def test_ingest_and_retrieve_through_the_embedding_server(tmp_path, embedding_server):
    s = _settings(tmp_path, embedding_server)
    corpus = write_small_corpus(tmp_path / "c", n=5)
    assert ingest([corpus], settings=s).added == 5
    st = stats(s)
    assert st.embedding_model == "server:qwen-0.5b" and st.embedding_dim == 896
    row = json.loads(corpus.read_text().splitlines()[2])
    # a causal LM's pooled states only find near-copies: the title and the opening of the abstract
    hits = retrieve(f"{row['title']}\n\n{row['abstract'][:600]}", k=2, mode="dense", settings=s)
    assert hits[0].title == row["title"], [p.title for p in hits]


def test_dead_embedding_server_is_one_line(tmp_path):
    s = _settings(tmp_path, f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(ModelUnavailableError, match="embedding server at http://127.0.0.1") as err:
        ingest([write_small_corpus(tmp_path / "c", n=1)], settings=s)
    assert "\n" not in str(err.value)
