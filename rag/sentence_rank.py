"""Which abstract sentences an extractive answer quotes: a linear scorer learned on the tuning sets.

The hand-weighted score (cosine + 0.3 x word overlap + bonuses, rag/extractive.py) put a sentence
holding a key fact first for only 40% of the tuning set's answerable questions, while the top five
papers held every key fact for 98% of them: most misses quoted the right paper but the wrong
sentences. A logistic regression over a few cheap signals of each sentence (similarity, word and
IDF overlap, where it sits in its abstract, its paper's rank, figures, naming cues) fitted on the
tuning sets' sentences (label: it contains a key fact) ranks them better (eval/runs/sentence_rank).

Hand-written rather than a library reranker: no cross-encoder ships on PyPI for offline use (the
project's rule), and these features need the corpus statistics and the question-type rules that only
this project has. The weights live in rag/data/sentence_rank.json, written by
scripts/fit_sentence_scorer.py (never from the held-out set); sklearn is used there, not at run time.
Only the extractive composition reads these scores; abstention and the LLM's evidence keep the plain
scores, so the decision to answer is unchanged.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag import abstain
from rag.coverage import asks_many, coined_names, names_contribution
from rag.errors import ModelUnavailableError
from rag.lexical import content_stems
from rag.text import BOILERPLATE

if TYPE_CHECKING:
    from rag.extractive import ScoredSentence

WEIGHTS = Path(__file__).parent / "data" / "sentence_rank.json"
FEATURES = (
    "cosine",  # embedding similarity to the question
    "cosine_gap",  # ... minus the best sentence's
    "overlap",  # share of the question's content words in the sentence
    "idf_overlap",  # ... weighted by IDF
    "answers_quantity",  # a figure next to the asked-for quantity
    "quantity_question_digit",  # a quantity question and the sentence has digits
    "names_contribution",  # "we propose", "called X", "(ABC)"
    "names_contribution_which",  # ... and the question asks for a paper
    "coined_name_which",  # a new rare name, and the question asks for a paper
    "first",  # the abstract's first sentence (usually background)
    "relative_position",  # 0 first ... 1 last
    "boilerplate",  # links, "code is available"
    "paper_rank",  # 1 / (1 + the paper's retrieval rank)
    "log_words",
    "names_contribution_many",  # "we propose..." and the question asks for several papers
    "digit",
    "names_asked",  # "which datasets / benchmarks / tasks…" and the sentence names something the question does not
)


def features(question: str, scored: list[ScoredSentence], df: dict[str, int], n_docs: int) -> np.ndarray:
    """One row of FEATURES per scored sentence."""
    asked = set(content_stems(question))
    total = sum(abstain.idf(w, df, n_docs) for w in asked) or 1.0
    focus = abstain.quantity_focus(question)
    which = abstain.asks_paper(question)
    many = asks_many(question)
    wants_names = abstain.asks_names(question)
    asked_text = abstain.squash(question)
    best = max(s.cosine for s in scored)
    length: dict[int, int] = {}
    for s in scored:
        length[s.source] = max(length.get(s.source, 0), s.position + 1)
    rows = []
    for s in scored:
        stems = set(content_stems(s.text))
        digit = any(c.isdigit() for c in s.text)
        naming = names_contribution(s.text)
        rows.append(
            (
                s.cosine,
                s.cosine - best,
                s.lexical,
                sum(abstain.idf(w, df, n_docs) for w in asked & stems) / total,
                focus is not None and abstain.answers_quantity(focus, s.text),
                focus is not None and digit,
                naming,
                naming and which,
                which and bool(coined_names(s.text, question, df, n_docs)),
                s.position == 0,
                s.position / max(1, length[s.source] - 1),
                bool(BOILERPLATE.search(s.text)),
                1.0 / (1 + s.source),
                math.log(1 + len(s.text.split())),
                naming and many,
                digit,
                wants_names
                and any(
                    abstain.name_like(t) and abstain.squash(t) not in asked_text for t in abstain.TOKEN.findall(s.text)
                ),
            )
        )
    return np.asarray(rows, dtype=np.float64)


@lru_cache(maxsize=1)
def _model(path: Path = WEIGHTS) -> dict:
    fix = "reinstall the package (`pip install -e .`) or refit with scripts/fit_sentence_scorer.py"
    try:
        model = json.loads(path.read_text())
        arrays = {k: np.asarray(model[k], dtype=np.float64) for k in ("mean", "std", "weights")}
        features, scale = tuple(model["features"]), float(model["scale"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailableError(f"the sentence scorer's weights at {path} are unreadable ({exc}): {fix}") from exc
    if features != FEATURES or any(len(a) != len(FEATURES) for a in arrays.values()):
        raise ModelUnavailableError(f"the sentence scorer's weights at {path} fit other features: {fix}")
    return {**arrays, "scale": scale}


def rescore(question: str, scored: list[ScoredSentence], df: dict[str, int], n_docs: int) -> list[ScoredSentence]:
    """The sentences with `score` replaced by the learned one (scale x the standardised linear score),
    for choosing what to quote."""
    if not scored:
        return scored
    m = _model()
    z = ((features(question, scored, df, n_docs) - m["mean"]) / m["std"]) @ m["weights"]
    return [replace(s, score=float(m["scale"] * v)) for s, v in zip(scored, z)]
