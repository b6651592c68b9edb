"""Public data models: what the API returns and what the UI, CLI and eval consume."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field


class Paper(BaseModel):
    """One unique paper after deduplication by normalised title."""

    paper_id: str = Field(description="Stable id derived from the normalised title.")
    title: str
    abstract: str
    authors: str | None = None
    n_authors: int | None = None
    date: str | None = Field(None, description="ISO date when the year is known.")
    date_text: str | None = Field(None, description="The date as written in the source.")
    sources: list[str] = Field(default_factory=list, description="Files the paper appeared in.")
    external_id: str | None = None


class Passage(BaseModel):
    """A retrieved paper: its whole abstract, found through its best-matching chunk.

    `metadata["matched_chunk"]` is the chunk that matched; `text` is the full abstract, which is
    what answers quote and citations are verified against.
    """

    paper_id: str
    title: str
    text: str
    score: float = Field(description="Fused retrieval score (higher is better).")
    chunk_id: str = ""
    metadata: dict = Field(default_factory=dict)


class Filters(BaseModel):
    """Restrict retrieval by paper date and by the file a paper came from."""

    date_from: date | None = Field(None, description="Keep papers dated on or after this day.")
    date_to: date | None = Field(None, description="Keep papers dated on or before this day.")
    sources: list[str] | None = Field(None, description="Keep papers from these file names.")

    def is_empty(self) -> bool:
        return self.date_from is None and self.date_to is None and not self.sources


class Citation(BaseModel):
    number: int
    paper_id: str
    title: str
    passage: str
    score: float


class SentenceCheck(BaseModel):
    """The verifier's verdict on one answer sentence."""

    text: str
    citations: list[int]
    supported: bool
    reasons: list[str] = Field(default_factory=list)
    support: float = Field(0.0, description="Best lexical support by a cited passage, 0..1.")


ABSTAIN_TEXT = (
    "The abstracts in this collection don't answer this question. "
    "The closest papers found are listed as sources."
)
NO_FIGURE_TEXT = (
    "The abstracts in this collection don't answer this question: the closest papers (listed as sources) "
    "discuss it but give no figure for what is asked."
)

NOT_ANSWERED_TEXT = (
    "The abstracts in this collection don't answer this question: the closest passages (listed as sources) "
    "were read and do not state what is asked."
)


def no_name_text(names: list[str]) -> str:
    """The abstention when the question names something the closest papers never mention."""
    listed = ", ".join(names)
    return (
        f"The abstracts in this collection don't answer this question: the closest papers (listed as sources) "
        f"never mention {listed}."
    )


class Answer(BaseModel):
    question: str
    text: str
    citations: list[Citation] = Field(default_factory=list)
    sources: list[Passage] = Field(default_factory=list, description="All passages retrieved.")
    abstained: bool = False
    mode: str = Field("extractive", description="Which answerer produced the text.")
    confidence: float = Field(0.0, description="Evidence strength used for abstention.")
    sentences: list[SentenceCheck] = Field(default_factory=list)
    removed: list[SentenceCheck] = Field(
        default_factory=list, description="Sentences the verifier dropped as unsupported."
    )
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds per stage.")
    draft: str | None = Field(
        None,
        description="Generated answers: the model's text before verification (what streamed). Extractive answers "
        "withheld by the model check: the quotes withheld.",
    )
    check: float | None = Field(
        None,
        description="Extractive answers: the local model's probability that what it read (answer.model_check_reads) "
        "answers the question (answer.model_check); None when not checked.",
    )
    check_reply: str | None = Field(
        None,
        description="Extractive answers with answer.model_check_reply: the local model's own few-word answer from "
        "the top abstract (\"Not stated\" when it finds none); None when not asked.",
    )
    notices: list[str] = Field(
        default_factory=list,
        description="Things the reader should know about how this answer was made (e.g. the LLM failed "
        "and the extractive answer is shown instead).",
    )


class SkippedItem(BaseModel):
    source: str
    line: int | None = None
    reason: str


class IngestReport(BaseModel):
    files: int = 0
    entries: int = 0
    papers: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    chunks_written: int = 0
    skipped: list[SkippedItem] = Field(default_factory=list)
    seconds: float = 0.0

    def skip_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.skipped:
            counts[item.reason] = counts.get(item.reason, 0) + 1
        return counts


class Stats(BaseModel):
    papers: int
    chunks: int
    embedding_model: str | None
    embedding_dim: int | None
    store: str
    collection: str
    sources: dict[str, int] = Field(default_factory=dict)


RetrievalMode = Literal["hybrid", "dense", "bm25"]


class Sources(BaseModel):
    """First item of `ask_stream`: the retrieved papers, as soon as retrieval is done."""

    question: str = Field(description="The standalone question that was searched.")
    passages: list[Passage] = Field(default_factory=list)
    seconds: float = Field(0.0, description="Time from the call to the end of retrieval.")


class Preview(BaseModel):
    """While a generated answer is written: the verified extractive answer, shown as a preview.

    It is a real, verified answer (quoted sentences with citations), but not the final one: the
    final `Answer` that ends the stream replaces it.
    """

    answer: Answer


StreamItem = Sources | Preview | str | Answer
