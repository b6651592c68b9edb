"""Every metric on small examples computed by hand."""

from __future__ import annotations

import math

import pytest

from eval.metrics import (
    abstention_scores,
    alce_citation_scores,
    hit_at_k,
    key_fact_recall,
    mean_or_none,
    ndcg_at_k,
    percentile,
    recall_at_k,
    reciprocal_rank,
)
from eval.summary import summarize, summarize_by_type

RANKED = ["a", "b", "c", "d", "e", "f"]


def test_hit_and_recall_at_k():
    assert hit_at_k(RANKED, ["c"], 2) == 0.0
    assert hit_at_k(RANKED, ["c"], 3) == 1.0
    assert recall_at_k(RANKED, ["b", "e", "z"], 5) == pytest.approx(2 / 3)
    assert recall_at_k(RANKED, ["b", "e", "z"], 1) == 0.0
    assert recall_at_k(RANKED, [], 5) == 0.0


def test_reciprocal_rank():
    assert reciprocal_rank(RANKED, ["d", "b"]) == 0.5  # first gold at rank 2
    assert reciprocal_rank(RANKED, ["z"]) == 0.0


def test_ndcg_binary_relevance():
    # gold at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5); ideal = 1/log2(2) + 1/log2(3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at_k(RANKED, ["b", "d"], 10) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(RANKED, ["a"], 10) == 1.0
    assert ndcg_at_k(RANKED, ["f"], 5) == 0.0  # beyond the cut-off
    # more gold papers than the cut-off: the ideal DCG only counts k of them
    assert ndcg_at_k(["a", "b"], ["a", "b", "c"], 2) == 1.0


def test_key_fact_recall_is_case_and_space_insensitive():
    answer = "MoFME saves  72% of parameters and 39%\nof inference TIME [1]."
    assert key_fact_recall(answer, ["72%", "39% of inference time"]) == 1.0
    assert key_fact_recall(answer, ["72%", "0.2 dB"]) == 0.5
    assert key_fact_recall(answer, []) is None


def test_abstention_scores():
    abstained = [True, True, False, False, True]
    answerable = [False, True, True, False, False]
    s = abstention_scores(abstained, answerable)
    assert s["abstention_precision"] == pytest.approx(2 / 3)  # 2 of 3 abstentions were right
    assert s["abstention_recall"] == pytest.approx(2 / 3)  # 2 of 3 unanswerable abstained on
    assert s["false_abstention_rate"] == pytest.approx(1 / 2)  # 1 of 2 answerable abstained on
    assert abstention_scores([False], [True])["abstention_precision"] is None


def _entails(table: dict[tuple[str, tuple[int, ...]], bool]):
    return lambda claim, idx: table.get((claim, tuple(sorted(idx))), False)


def test_alce_citation_recall_and_precision():
    # s1 cites [0]: supported.            -> recall 1, its citation precise
    # s2 cites [0, 1]: union supports; [0] alone does, [1] alone does not and [0] (the rest) does
    #    -> [1] is irrelevant             -> recall 1, 1 of 2 citations precise
    # s3 cites [1]: not supported          -> recall 0, citation not precise
    # s4 cites nothing                     -> recall 0
    table = {
        ("s1", (0,)): True,
        ("s2", (0, 1)): True,
        ("s2", (0,)): True,
        ("s2", (1,)): False,
    }
    sents = [("s1", [0]), ("s2", [0, 1]), ("s3", [1]), ("s4", [])]
    scores = alce_citation_scores(sents, 2, _entails(table))
    assert scores["citation_recall"] == pytest.approx(2 / 4)
    assert scores["citation_precision"] == pytest.approx(2 / 4)  # s1:[0], s2:[0] out of 4 citations


def test_alce_keeps_citations_that_are_needed_together():
    # neither passage alone supports the claim, together they do: both citations are precise
    table = {("s", (0, 1)): True}
    scores = alce_citation_scores([("s", [0, 1])], 2, _entails(table))
    assert scores == {"citation_recall": 1.0, "citation_precision": 1.0}


def test_alce_invalid_citation_counts_as_unsupported():
    scores = alce_citation_scores([("s", [5])], 2, lambda c, i: True)
    assert scores == {"citation_recall": 0.0, "citation_precision": 0.0}


def test_mean_and_percentile():
    assert mean_or_none([1.0, None, 0.0]) == 0.5
    assert mean_or_none([None]) is None
    assert percentile([5, 1, 4, 2, 3], 50) == 3
    assert percentile([5, 1, 4, 2, 3], 95) == 5
    assert percentile([], 50) is None


def _rec(type_, answerable, abstained, **metrics):
    return {
        "type": type_,
        "answerable": answerable,
        "abstained": abstained,
        "latency_s": 1.0,
        "metrics": metrics,
    }


def test_summary_averages_over_the_right_items():
    recs = [
        _rec(
            "fact",
            True,
            False,
            **{
                "recall@k": 1.0,
                "mrr": 1.0,
                "key_fact_recall": 0.5,
                "faithful_cited": 1.0,
                "verify_failures": 0,
                "sentences": 2,
            },
        ),
        _rec("fact", True, True, **{"recall@k": 0.0, "mrr": 0.0, "key_fact_recall": 0.0}),
        _rec("unanswerable", False, True),
        _rec("unanswerable", False, False, faithful_cited=0.5, verify_failures=1, sentences=2),
    ]
    s = summarize(recs)
    assert s["recall@k"] == 0.5 and s["mrr"] == 0.5  # answerable only
    assert s["key_fact_recall"] == 0.25 and s["key_fact_recall_answered"] == 0.5
    assert s["faithful_cited"] == 0.75  # answered only
    assert s["abstention_precision"] == 0.5 and s["abstention_recall"] == 0.5
    assert s["false_abstention_rate"] == 0.5
    assert s["verify_failures"] == 1 and s["sentences"] == 4
    by_type = summarize_by_type(recs)
    assert set(by_type) == {"fact", "unanswerable"} and by_type["fact"]["n"] == 2
