"""The public API: ingest(), retrieve(), ask(), stats(). The CLI, UI and eval call only these."""

from __future__ import annotations

import operator
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from rag.answerers import answerer_for
from rag.conversation import condense
from rag.errors import QuestionError
from rag.index import Index
from rag.models import (
    ABSTAIN_TEXT,  # noqa: F401  (re-exported: rag.api.ABSTAIN_TEXT)
    Answer,
    Filters,
    IngestReport,
    Passage,
    RetrievalMode,
    Sources,
    Stats,
    StreamItem,
)
from rag.retrieval import retrieve_passages
from rag.sanitize import printable
from rag.settings import K_MAX, K_MIN, Settings, get_settings


def _settings(settings: Settings | None) -> Settings:
    return settings or get_settings()


def _filters(filters: Filters | dict[str, Any] | None) -> Filters | None:
    if filters is None or isinstance(filters, Filters):
        return filters
    return Filters.model_validate(filters)


def check_question(question: str, settings: Settings) -> str:
    """Refuse empty and oversized questions with a message that says what to do.

    Bytes that are not UTF-8 (a shell argument in latin-1, a broken "\\ud800" from a client) arrive
    as lone surrogates, which the tokenizers reject: each becomes U+FFFD and the question is answered.
    """
    if question is not None and not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}: pass a string")
    q = " ".join(printable(question or "").split())
    if not q:
        raise QuestionError("the question is empty: type a question about the papers")
    limit = settings.answer.max_question_chars
    if len(q) > limit:
        raise QuestionError(
            f"the question is {len(q)} characters long; the limit is {limit} "
            "(RAG_ANSWER__MAX_QUESTION_CHARS): shorten it"
        )
    return q


def check_k(k: int | None) -> int | None:
    """None (the setting) or a whole number within the setting's own range, else a QuestionError."""
    if k is None:
        return None
    try:
        n = None if isinstance(k, bool) else operator.index(k)  # ints and numpy ints, not 2.5 or "5"
    except TypeError:
        n = None
    if n is None or not K_MIN <= n <= K_MAX:
        raise QuestionError(f"k (papers to retrieve) is {k!r}: use a whole number from {K_MIN} to {K_MAX}")
    return n


def ingest(
    paths: Iterable[str | Path] | None = None,
    *,
    rebuild: bool = False,
    progress: bool = False,
    settings: Settings | None = None,
) -> IngestReport:
    """Add abstract files (default: the bundled corpus) to the index; unchanged papers are skipped."""
    paths = [Path(p) for p in paths] if paths else None
    return Index(_settings(settings)).ingest(paths, rebuild=rebuild, progress=progress)


def stats(settings: Settings | None = None) -> Stats:
    return Index(_settings(settings)).stats()


def retrieve(
    question: str,
    k: int | None = None,
    *,
    filters: Filters | dict[str, Any] | None = None,
    mode: RetrievalMode | None = None,
    settings: Settings | None = None,
) -> list[Passage]:
    """The best passage of each of the top-k papers, best first."""
    s = _settings(settings)
    return retrieve_passages(s, check_question(question, s), check_k(k), _filters(filters), mode)


AnswerMode = Literal["extractive", "llm", "auto"]


def ask_stream(
    question: str,
    *,
    k: int | None = None,
    filters: Filters | dict[str, Any] | None = None,
    mode: RetrievalMode | None = None,
    settings: Settings | None = None,
    answer_mode: AnswerMode | None = None,
    history: Sequence[Answer] | None = None,
) -> Iterator[StreamItem]:
    """Answer step by step, evidence first. Yields, in order:

    1. `Sources`: the retrieved papers, as soon as retrieval is done;
    2. `Preview` (generated answers only): the verified extractive answer, shown while the model writes;
    3. `str` deltas (generated answers only): the model's raw text as it is produced, unverified;
    4. the final `Answer`, always last: only verified sentences (dropped ones in `Answer.removed`).

    `answer_mode` (default: settings.answer.mode) picks the answerer; `history` (earlier answers,
    oldest first) turns a follow-up into a standalone question first.
    """
    t0 = time.perf_counter()
    s = _settings(settings)
    answerer = answerer_for(answer_mode, s)  # an unknown mode fails before any work
    q, k = condense(check_question(question, s), history), check_k(k)
    passages = retrieve_passages(s, q, k, _filters(filters), mode)
    timings = {"retrieve": round(time.perf_counter() - t0, 4)}
    yield Sources(question=q, passages=passages, seconds=timings["retrieve"])
    yield from answerer.stream(q, passages, timings)


def ask(
    question: str,
    *,
    k: int | None = None,
    filters: Filters | dict[str, Any] | None = None,
    mode: RetrievalMode | None = None,
    settings: Settings | None = None,
    answer_mode: AnswerMode | None = None,
    history: Sequence[Answer] | None = None,
) -> Answer:
    """Answer from the abstracts with verified [n] citations, or abstain when they don't answer.

    The same steps as `ask_stream`, returning only the final `Answer`.
    """
    final = None
    for item in ask_stream(
        question, k=k, filters=filters, mode=mode, settings=settings, answer_mode=answer_mode, history=history
    ):
        final = item
    assert isinstance(final, Answer)  # every answerer ends its stream with the Answer
    return final
