"""rag.llm.check's decision on the model's own short answer, without a model (the model: tests/test_check.py)."""

from __future__ import annotations

import pytest

from rag.llm.check import reply_withholds

ABSTRACT = "**MoFME** [1] — MoFME reduces the model size by 72% and the inference time by 39%, on 1,000 images."


@pytest.mark.parametrize("reply", ["Not stated", "Not stated.", "not stated", '"Not stated"', "**Not stated**"])
def test_not_stated_withholds(reply):
    assert reply_withholds(reply, False, ABSTRACT) == "not stated"


@pytest.mark.parametrize(
    "reply",
    ["72% fewer parameters, 39% less time", "MoFME [1]", "Mixture of experts", "1000 images", "1,000 images"],
)
def test_replies_from_the_abstract_pass(reply):
    assert reply_withholds(reply, False, ABSTRACT) is None


def test_a_figure_the_abstract_lacks_withholds():
    assert reply_withholds("256", False, ABSTRACT) == "a figure the abstract lacks"
    assert reply_withholds("72% smaller, trained with batch size 64", False, ABSTRACT) is not None


def test_citation_markers_and_a_number_cut_at_the_token_limit_do_not_count():
    assert reply_withholds("MoFME [3] saves 72%", False, ABSTRACT) is None
    assert reply_withholds("72% smaller, on fewer than 1", True, ABSTRACT) is None  # "100B" cut short
    assert reply_withholds("72% smaller, on fewer than 1", False, ABSTRACT) is not None
    assert reply_withholds("a claim that is not stated here", False, ABSTRACT) is None  # only a leading one
