"""The one small interface every answerer implements; `ask()`/`ask_stream()` pick one by mode."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator

from rag.embeddings import get_embedder
from rag.extractive import Draft, draft_answer
from rag.models import Answer, Passage, Preview
from rag.retrieval import vocabulary
from rag.settings import Settings

Events = Iterator[Preview | str | Answer]


class Answerer(ABC):
    """Turns retrieved passages into a verified `Answer` (or an abstention)."""

    #: "extractive" or "llm"
    kind: str

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def stream(self, question: str, passages: list[Passage], timings: dict[str, float]) -> Events:
        """Yield an optional `Preview`, text as it is generated, then the final verified `Answer`.

        `question` is checked and standalone; `timings` holds the retrieval time and receives the
        other stages (seconds).
        """

    def evidence(
        self, question: str, passages: list[Passage], timings: dict[str, float], threshold: float | None = None
    ) -> Draft:
        """Every sentence scored against the question, the evidence strength, the extractive draft
        (abstaining below `threshold`, default answer.abstain_threshold)."""
        t = time.perf_counter()
        cfg = self.settings.answer
        draft = draft_answer(
            question,
            passages,
            get_embedder(self.settings),
            vocabulary(self.settings),
            cfg.abstain_threshold if threshold is None else threshold,
            cfg.max_sentences,
            cfg.figure_check_papers,
            cfg.name_check,
            cfg.name_check_max_share,
            cfg.show_names,
        )
        timings["evidence"] = round(time.perf_counter() - t, 4)
        return draft
