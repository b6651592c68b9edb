"""The figure check of quantity questions (rag.abstain.figure_terms / states_figure)."""

from __future__ import annotations

import pytest

from rag.abstain import figure_terms, states_figure


@pytest.mark.parametrize(
    ("question", "terms"),
    [
        ("How many small proxy models does RegMix train?", ["small", "proxi", "model"]),
        ("How much extra storage does Token Recycling need?", ["extra", "storag"]),
        ("How many GPUs and how many days were needed?", ["gpus"]),
        ("What top-1 accuracy do SE networks reach on CIFAR-10?", ["accuraci"]),
        ("How much does Latent Zoning Network improve FID?", []),  # any figure will do
        ("Which paper shows that performance scales with how often a concept appears?", None),
        ("Which papers make linear attention fast on GPUs?", None),  # not a quantity question
    ],
)
def test_figure_terms(question, terms):
    assert figure_terms(question) == terms


@pytest.mark.parametrize(
    ("terms", "sentence", "states"),
    [
        (["model"], "To validate it, we train 512 models with 1M parameters.", True),
        (["model"], "We train eight models on different mixtures.", True),  # number words count
        (["percentag"], "PoNet retains 95.7% of BERT's accuracy on GLUE.", True),  # "%" answers "percentage"
        (["model"], "We train a set of small models with diverse mixtures.", False),  # no figure
        (["gpus"], "Training takes 3 days on a single node.", False),  # a figure, but not of GPUs
        ([], "It improves FID from 2.76 to 2.59.", True),
    ],
)
def test_states_figure(terms, sentence, states):
    assert states_figure(terms, sentence) is states
