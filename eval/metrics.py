"""Metric definitions, as pure functions so that each is unit-tested on hand-computed examples.

Retrieval is scored at paper level (a question's gold papers vs the ranked paper ids); answers by
key-fact recall and abstention; citations with ALCE's definitions (Gao et al., 2023, "Enabling
Large Language Models to Generate Text with Citations"), given any entailment function.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from statistics import mean

# -- retrieval ------------------------------------------------------------------------------------


def hit_at_k(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    """1 when any gold paper is among the first k."""
    return float(bool(set(ranked[:k]) & set(gold)))


def recall_at_k(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Fraction of the gold papers among the first k."""
    if not gold:
        return 0.0
    return len(set(ranked[:k]) & set(gold)) / len(set(gold))


def reciprocal_rank(ranked: Sequence[str], gold: Sequence[str]) -> float:
    """1/rank of the first gold paper (0 when none is retrieved)."""
    wanted = set(gold)
    for i, pid in enumerate(ranked, start=1):
        if pid in wanted:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranked: Sequence[str], gold: Sequence[str], k: int = 10) -> float:
    """Binary-relevance nDCG: DCG = sum rel_i / log2(i + 1), normalised by the ideal ordering."""
    wanted = set(gold)
    if not wanted:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 1) for i, pid in enumerate(ranked[:k], start=1) if pid in wanted)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(wanted), k) + 1))
    return dcg / ideal


# -- answers --------------------------------------------------------------------------------------


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def key_fact_recall(answer: str, must_include: Sequence[str]) -> float | None:
    """Fraction of the key facts found in the answer (case- and spacing-insensitive); None if none."""
    if not must_include:
        return None
    text = _squash(answer)
    return sum(_squash(fact) in text for fact in must_include) / len(must_include)


def abstention_scores(abstained: Sequence[bool], answerable: Sequence[bool]) -> dict[str, float | None]:
    """Precision/recall of abstaining on unanswerable items, and the false-abstention rate.

    precision: of the abstentions, how many were on unanswerable items;
    recall: of the unanswerable items, how many were abstained on;
    false_abstention_rate: of the answerable items, how many were abstained on.
    None where the denominator is zero.
    """
    pairs = list(zip(abstained, answerable, strict=False))
    n_abstained = sum(a for a, _ in pairs)
    n_unanswerable = sum(not ok for _, ok in pairs)
    n_answerable = len(pairs) - n_unanswerable
    right = sum(a and not ok for a, ok in pairs)
    wrong = sum(a and ok for a, ok in pairs)
    return {
        "abstention_precision": right / n_abstained if n_abstained else None,
        "abstention_recall": right / n_unanswerable if n_unanswerable else None,
        "false_abstention_rate": wrong / n_answerable if n_answerable else None,
    }


# -- citations (ALCE) -----------------------------------------------------------------------------

Entails = Callable[[str, list[int]], bool]
"""(claim, 0-based indices of the passages taken together) -> do they support the claim?"""


def alce_citation_scores(
    sentences: Sequence[tuple[str, Sequence[int]]], n_passages: int, entails: Entails
) -> dict[str, float]:
    """ALCE citation recall and precision of one answer.

    `sentences` are (claim without markers, cited 0-based passage indices). Recall: a sentence
    counts when it has citations, all valid, and their union supports it. Precision: a citation
    counts when its sentence is supported by the union and the citation is not irrelevant; a
    citation is irrelevant when it alone does not support the sentence and the remaining
    citations do (only checked for sentences with several citations, as in ALCE's code). Both are
    averaged over the answer's sentences / citations.
    """
    if not sentences:
        return {"citation_recall": 0.0, "citation_precision": 0.0}
    supported_sentences = 0
    good_citations = 0
    total_citations = 0
    for claim, cites in sentences:
        cites = list(dict.fromkeys(cites))
        total_citations += len(cites)
        if not cites or any(not 0 <= c < n_passages for c in cites):
            continue
        if not entails(claim, cites):
            continue
        supported_sentences += 1
        if len(cites) == 1:
            good_citations += 1
            continue
        for c in cites:
            alone = entails(claim, [c])
            rest = [x for x in cites if x != c]
            if alone or not entails(claim, rest):
                good_citations += 1
    return {
        "citation_recall": supported_sentences / len(sentences),
        "citation_precision": good_citations / total_citations if total_citations else 0.0,
    }


# -- aggregation ----------------------------------------------------------------------------------


def mean_or_none(values: Sequence[float | None]) -> float | None:
    """Mean of the values that are not None (None when there are none)."""
    vals = [v for v in values if v is not None]
    return mean(vals) if vals else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
