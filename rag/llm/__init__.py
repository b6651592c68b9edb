"""LLM backends: an OpenAI-compatible server, or a GGUF model embedded with llama.cpp.

    backend = get_backend(settings)      # chosen by settings.llm.backend
    for delta in backend.stream(prompt, max_tokens=256): ...
"""

from __future__ import annotations

from rag.llm.base import ContextOverflowError, LLMBackend, Prompt
from rag.settings import Settings

__all__ = ["ContextOverflowError", "LLMBackend", "Prompt", "backend_kind", "get_backend", "remote_configured"]


def remote_configured(settings: Settings) -> bool:
    """An OpenAI-compatible endpoint or key is configured (OPENAI_BASE_URL / OPENAI_API_KEY)."""
    return bool(settings.openai_base_url or settings.openai_api_key)


def backend_kind(settings: Settings) -> str:
    """openai or llamacpp; auto picks openai when an endpoint or key is configured."""
    if settings.llm.backend != "auto":
        return settings.llm.backend
    return "openai" if remote_configured(settings) else "llamacpp"


def get_backend(settings: Settings) -> LLMBackend:
    """A ready backend; the embedded one loads (and, the first time, assembles) its model here."""
    if backend_kind(settings) == "openai":
        from rag.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(settings)
    from rag.llm.llamacpp_backend import LlamaCppBackend

    return LlamaCppBackend(settings)
