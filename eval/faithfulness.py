"""Offline faithfulness of a finished answer, claim (sentence) by claim, with rag.verify's checker.

The gate already dropped what it could not verify, so re-checking the final answer against its own
citations is a consistency check (it catches renumbering bugs and backends that skip the gate);
checking against any retrieved passage shows whether a sentence was supported but mis-cited; the
ALCE citation scores say whether the citations are the right ones. The LLM judge (eval/judge.py)
is the independent check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from eval.metrics import alce_citation_scores
from rag.models import Answer, Passage
from rag.text import split_sentences
from rag.verify import assess, check_sentence, citations_in, strip_markers


@dataclass
class ClaimResult:
    text: str
    citations: list[int]
    supported_by_cited: bool
    supported_by_any: bool
    aligned: float
    reasons: list[str] = field(default_factory=list)


@dataclass
class AnswerFaithfulness:
    claims: list[ClaimResult]
    faithful_cited: float | None  # fraction of sentences supported by the passages they cite
    faithful_any: float | None  # ... by some retrieved passage
    citation_recall: float | None
    citation_precision: float | None
    verify_failures: int  # final sentences that fail the gate's own check


def cited_passages(answer: Answer) -> list[Passage]:
    """The answer's citations as passages, indexed by citation number - 1."""
    ordered = sorted(answer.citations, key=lambda c: c.number)
    return [Passage(paper_id=c.paper_id, title=c.title, text=c.passage, score=c.score) for c in ordered]


def answer_sentences(text: str) -> list[str]:
    return [s for para in re.split(r"\n\s*\n", text.strip()) for s in split_sentences(para) if s.strip()]


def score_answer(answer: Answer, embedder=None) -> AnswerFaithfulness:
    """Claim-level faithfulness and ALCE citation scores of one (non-abstained) answer."""
    passages = cited_passages(answer)
    sources = list(answer.sources)
    claims: list[ClaimResult] = []
    failures = 0
    alce_input: list[tuple[str, list[int]]] = []
    for sentence in answer_sentences(answer.text):
        cites = citations_in(sentence)
        claim = strip_markers(sentence)
        if not claim:
            continue
        check = check_sentence(sentence, passages, embedder=embedder)
        failures += not check.supported
        by_any = any(assess(claim, [p], embedder=embedder).supported for p in sources) or (
            bool(sources) and assess(claim, sources, embedder=embedder).supported
        )
        claims.append(ClaimResult(sentence, cites, check.supported, by_any, check.support, check.reasons))
        alce_input.append((claim, [c - 1 for c in cites]))
    if not claims:
        return AnswerFaithfulness([], None, None, None, None, 0)

    def entails(claim: str, idx: list[int]) -> bool:
        return assess(claim, [passages[i] for i in idx], embedder=embedder).supported

    alce = alce_citation_scores(alce_input, len(passages), entails)
    n = len(claims)
    return AnswerFaithfulness(
        claims=claims,
        faithful_cited=sum(c.supported_by_cited for c in claims) / n,
        faithful_any=sum(c.supported_by_any for c in claims) / n,
        citation_recall=alce["citation_recall"],
        citation_precision=alce["citation_precision"],
        verify_failures=failures,
    )
