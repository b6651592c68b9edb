"""The offline checker, checked: precision/recall/F1 on its labeled set, with thresholds.

Thresholds were set on the dev split; these tests score the test split (papers never seen while
tuning). The templated set shares its negation/antonym vocabulary with the checker, so it is an
upper bound; the hand-written natural set shows what lexical checks miss (contradictions in new
words), and its test only guards against regressions and against flagging faithful paraphrases.
"""

from __future__ import annotations

import json

import pytest

from eval.build_checker_set import build
from eval.checker import CHECKER_SET, NATURAL_SET, UNFAITHFUL_TYPES, evaluate, load_checker_set, offline_check

OVERALL_F1 = 0.9
PER_TYPE_F1 = 0.9
MAX_FALSE_FLAGS = 0.05


@pytest.fixture(scope="module")
def items():
    return load_checker_set(CHECKER_SET)


def test_checker_set_is_big_enough_and_split(items):
    for split in ("dev", "test"):
        types = [it.type for it, _ in items if it.split == split]
        for t in ("faithful", *UNFAITHFUL_TYPES):
            assert types.count(t) >= 60, (split, t)


def test_checker_set_is_reproducible():
    """eval/build_checker_set.py with its default seed rebuilds the committed file exactly."""
    committed = [json.loads(line) for line in CHECKER_SET.read_text().splitlines() if line.strip()]
    assert build(seed=13, per_type=150) == committed


def test_checker_scores_on_test_split(items):
    result = evaluate(items, offline_check(), "test")
    assert result["overall"]["f1"] >= OVERALL_F1, result["overall"]
    for t, m in result["per_type"].items():
        assert m["f1"] >= PER_TYPE_F1, (t, m)
    assert result["faithful_false_flag_rate"] <= MAX_FALSE_FLAGS


def test_checker_on_hand_written_natural_set():
    result = evaluate(load_checker_set(NATURAL_SET), offline_check(), "natural")
    assert result["faithful_false_flag_rate"] == 0.0  # LLM-style paraphrases must pass the gate
    assert result["overall"]["recall"] >= 0.5  # numbers, names and most negations are caught
