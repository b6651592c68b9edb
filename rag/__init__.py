"""Question answering over research-paper abstracts, with verified citations.

    from rag import ask
    answer = ask("which papers make linear attention fast on GPUs, and how?")
    print(answer.text)
"""

from rag.api import ask, ask_stream, ingest, retrieve, stats
from rag.errors import RagError
from rag.models import Answer, Citation, Filters, IngestReport, Passage, Preview, Sources, Stats, StreamItem
from rag.settings import Settings, get_settings

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
