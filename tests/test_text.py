"""rag.text.split_sentences: the answer and verification side of sentence splitting.

Chunking keeps llama-index's untrained Punkt boundaries (tests/test_sentences.py); quoting and
verifying whole sentences needs fewer false breaks than that, so these cases come from the bundled
abstracts where Punkt cut a sentence in two.
"""

from __future__ import annotations

import pytest

from rag.text import split_sentences


@pytest.mark.parametrize(
    "text",
    [
        'We contribute this long-tail test set as the "Let it Wag!" benchmark to further research.',
        "It beats prior models (compared to BLIP-2, etc.) or generation (compared to SD, etc.) alike.",
        "Word embeddings like Word2Vec, GloVe etc. well capture the contextuality of words.",
        "They work well where data streams are i.i.d. and labeled data is abundant.",
        "The factors change linearly w.r.t. the modelled attributes.",
        "While Kaplan et al. presents a study of scaling, we go further.",
        'It learns concepts (e.g., ``Finding the first noun in a sentence.") into separable representations.',
        "Abbreviations like e.g.In and names like CIFAR.The stay whole.",  # glued, but not after a lower-case word
        "**Is it done?In short: a title** [1] stays whole.",  # inside a bold title
    ],
)
def test_no_break_inside_a_sentence(text):
    assert split_sentences(text) == [text]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "It helps downstream tasks. cMIM integrates a new loss.",
            ["It helps downstream tasks.", "cMIM integrates a new loss."],
        ),
        (
            'We call it "tokenization bias". To study it, we test.',
            ['We call it "tokenization bias".', "To study it, we test."],
        ),
        ('It is named "Wag!" The benchmark is new.', ['It is named "Wag!"', "The benchmark is new."]),
        ("It is fast, etc. The end.", ["It is fast, etc.", "The end."]),
        ("It works [1]. It is fast [2].", ["It works [1].", "It is fast [2]."]),
        # a scraped abstract lost the space after a full stop (bundled: "images.In", "tasks.We")
        (
            "It transfers to images.In this paper, we study it.",
            ["It transfers to images.", "In this paper, we study it."],
        ),
        ("Gains on tasks.We release code.", ["Gains on tasks.", "We release code."]),
    ],
)
def test_real_boundaries_kept(text, expected):
    assert split_sentences(text) == expected
