"""The public API: ingest(), retrieve(), ask(), stats(). The CLI, UI and eval call only these."""

from __future__ import annotations

import operator
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from rag.conversation import condense
from rag.embeddings import get_embedder
from rag.errors import ConfigError, QuestionError
from rag.extractive import draft_answer
from rag.index import Index
from rag.models import (
    ABSTAIN_TEXT,  # noqa: F401  (re-exported: rag.api.ABSTAIN_TEXT)
    Answer,
    Filters,
    IngestReport,
    Passage,
    RetrievalMode,
    Stats,
)
from rag.retrieval import retrieve_passages, vocabulary
from rag.sanitize import printable
from rag.settings import K_MAX, K_MIN, Settings, get_settings
from rag.verify import answer_from, verify_answer


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


def _answer_mode(s: Settings, requested: AnswerMode | None) -> str:
    """extractive or llm; auto means llm when an OpenAI-compatible endpoint or key is configured."""
    chosen = requested or s.answer.mode
    if chosen == "auto":
        from rag.llm import remote_configured

        return "llm" if remote_configured(s) else "extractive"
    if chosen not in ("extractive", "llm"):
        raise ConfigError(f"answer mode {chosen!r} is unknown: use extractive, llm or auto")
    return chosen


def _llm_stream(
    q: str, k: int | None, filters: Filters | dict[str, Any] | None, mode: RetrievalMode | None, s: Settings
) -> Iterator[str | Answer]:
    from rag.generate import stream_answer  # imported here: the extractive path needs no LLM client

    t0 = time.perf_counter()
    passages = retrieve_passages(s, q, k, _filters(filters), mode)
    yield from stream_answer(q, passages, s, {"retrieve": round(time.perf_counter() - t0, 4)})


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
    """Answer from the abstracts with verified [n] citations, or abstain when evidence is weak.

    `answer_mode` (default: settings.answer.mode) picks the answerer: extractive quotes sentences;
    llm generates with the configured backend and keeps only verified sentences (see rag.generate).
    `history` (earlier answers, oldest first) turns a follow-up into a standalone question first.
    """
    s = _settings(settings)
    q, k = condense(check_question(question, s), history), check_k(k)
    if _answer_mode(s, answer_mode) == "llm":
        answer = None
        for item in _llm_stream(q, k, filters, mode, s):
            answer = item
        assert isinstance(answer, Answer)  # the stream always ends with the Answer
        return answer
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    passages = retrieve_passages(s, q, k, _filters(filters), mode)
    timings["retrieve"] = round(time.perf_counter() - t0, 4)

    t1 = time.perf_counter()
    d = draft_answer(
        q, passages, get_embedder(s), vocabulary(s), s.answer.abstain_threshold, s.answer.max_sentences
    )
    confidence, draft = d.confidence, d.text
    timings["answer"] = round(time.perf_counter() - t1, 4)

    t2 = time.perf_counter()
    verified = verify_answer(draft, passages) if draft else None
    timings["verify"] = round(time.perf_counter() - t2, 4)
    timings["total"] = round(time.perf_counter() - t0, 4)

    return answer_from(
        q, passages, verified, mode="extractive", confidence=round(confidence, 4), timings=timings
    )


def ask_stream(
    question: str,
    *,
    k: int | None = None,
    filters: Filters | dict[str, Any] | None = None,
    mode: RetrievalMode | None = None,
    settings: Settings | None = None,
    answer_mode: AnswerMode | None = None,
    history: Sequence[Answer] | None = None,
) -> Iterator[str | Answer]:
    """Yield answer text as it is produced, then the final verified `Answer` as the last item.

    The extractive answerer has nothing to stream before verification, so it yields the
    verified text once; generated answers (LLM backends) stream token by token. Streamed LLM text
    is the raw draft: show the final `Answer.text`, which keeps only the sentences that passed
    verification (the dropped ones are in `Answer.removed`).
    """
    s = _settings(settings)
    if _answer_mode(s, answer_mode) == "llm":
        yield from _llm_stream(condense(check_question(question, s), history), check_k(k), filters, mode, s)
        return
    answer = ask(question, k=k, filters=filters, mode=mode, settings=s, answer_mode="extractive", history=history)
    yield answer.text
    yield answer
