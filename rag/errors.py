"""Typed errors. Each message says what went wrong and how to fix it; the CLI and UI show it as one line."""

from __future__ import annotations


class RagError(Exception):
    """Base class: anything the user can act on."""


class ConfigError(RagError):
    """A setting is missing or invalid."""


class CorpusError(RagError):
    """An input file or folder cannot be used."""


class IndexMissingError(RagError):
    """There is no index yet, or it is empty."""


class EmbeddingMismatchError(RagError):
    """The store was built with another embedding model."""


class StoreError(RagError):
    """The vector store cannot be reached or is broken."""


class QuestionError(RagError):
    """The question is empty or too long."""


class LLMError(RagError):
    """The language model backend failed (unreachable server, bad key, unknown model...)."""


class ModelUnavailableError(RagError):
    """A local model file or package is missing."""
