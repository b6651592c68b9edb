"""The extractive answerer's pure parts: which sentences name a contribution, and what that changes."""

from __future__ import annotations

import numpy as np
import pytest

from rag.extractive import NAMING_BONUS, ScoredSentence, favour_naming, names_contribution, select


@pytest.mark.parametrize(
    "sentence",
    [
        "We propose Seismic, an approximate retrieval algorithm for learned sparse embeddings.",
        "This paper introduces a benchmark for tool use.",
        "The resulting model, dubbed TuluTalk, matches larger models.",
        "We study speech tokenizers with a unified generative model (SLUNG).",
        "Our method, LLM-QL, ranks documents by query likelihood.",
    ],
)
def test_sentences_that_name_the_contribution(sentence):
    assert names_contribution(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Results show a 12% gain on three benchmarks.",
        "Pretraining (training on raw text) is expensive.",  # a lower-case parenthesis is no name
        "Prior work proposed similar ideas.",
    ],
)
def test_sentences_that_do_not(sentence):
    assert not names_contribution(sentence)


def _s(pos: int, text: str, score: float) -> ScoredSentence:
    v = np.zeros(4)
    v[pos % 4] = 1.0  # orthogonal vectors: MMR does not penalise either sentence
    return ScoredSentence(0, pos, text, score, 0.0, score, v)


def test_the_naming_sentence_outranks_a_slightly_closer_one_but_not_for_quantity_questions():
    closer = _s(0, "Sparse embeddings make retrieval over inverted indexes slow.", 0.80)
    naming = _s(1, "We propose Seismic, a fast approximate algorithm.", 0.80 - NAMING_BONUS / 2)
    plain = select([closer, naming], max_sentences=1)
    assert plain == [closer]
    favoured = select(favour_naming("which paper speeds up learned sparse retrieval?", [closer, naming]), 1)
    assert [s.text for s in favoured] == [naming.text]
    # a quantity question's answer is a figure: no naming bonus there
    quantity = select(favour_naming("how many times faster is learned sparse retrieval?", [closer, naming]), 1)
    assert quantity == [closer]
