"""Question answering over research-paper abstracts, with verified citations.

    from rag import ask
    answer = ask("which papers make linear attention fast on GPUs, and how?")
    print(answer.text)
"""

from typing import TYPE_CHECKING

# Loaded on first use, so that `rag --help` and the CLI's argument errors do not wait for
# llama-index, Chroma and the models to import (2.4 s -> see rag/cli.py).
_EXPORTS = {
    "ask": "rag.api",
    "ask_stream": "rag.api",
    "ingest": "rag.api",
    "retrieve": "rag.api",
    "stats": "rag.api",
    "RagError": "rag.errors",
    "Answer": "rag.models",
    "Citation": "rag.models",
    "Filters": "rag.models",
    "IngestReport": "rag.models",
    "Passage": "rag.models",
    "Preview": "rag.models",
    "Sources": "rag.models",
    "Stats": "rag.models",
    "StreamItem": "rag.models",
    "Settings": "rag.settings",
    "get_settings": "rag.settings",
}

if TYPE_CHECKING:
    from rag.api import ask, ask_stream, ingest, retrieve, stats
    from rag.errors import RagError
    from rag.models import Answer, Citation, Filters, IngestReport, Passage, Preview, Sources, Stats, StreamItem
    from rag.settings import Settings, get_settings


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "Answer",
    "Citation",
    "Filters",
    "IngestReport",
    "Passage",
    "Preview",
    "RagError",
    "Settings",
    "Sources",
    "Stats",
    "StreamItem",
    "ask",
    "ask_stream",
    "get_settings",
    "ingest",
    "retrieve",
    "stats",
]
