"""The extractive answerer's pure parts: which sentences name a contribution, and what that changes."""

from __future__ import annotations

import pytest

from rag.coverage import names_contribution


@pytest.mark.parametrize(
    "sentence",
    [
        "We propose Seismic, an approximate retrieval algorithm for learned sparse embeddings.",
        "This paper introduces a benchmark for tool use.",
        "The resulting model, dubbed TuluTalk, matches larger models.",
        "We study speech tokenizers with a unified generative model (SLUNG).",
        "Our method, LLM-QL, ranks documents by query likelihood.",
        "A novel retriever, Dense Passage Retrieval (DPR), is introduced.",
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
        # background sentences introduce abbreviations too: without "we / our / this / novel …" no name
        "Training dense retrievers often relies on hard negative (HN) examples mined via cross-encoders (CE).",
        "Equally ubiquitous is the usage of beam search (BS) as an approximate inference algorithm.",
    ],
)
def test_sentences_that_do_not(sentence):
    assert not names_contribution(sentence)
