"""rag.sentence_rank: the learned scorer that picks which sentences an extractive answer quotes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag import sentence_rank
from rag.errors import ModelUnavailableError
from rag.extractive import ScoredSentence
from rag.sentence_rank import FEATURES, WEIGHTS, features, rescore

ROOT = Path(__file__).resolve().parent.parent
DF = {"spars": 3, "retriev": 40, "block": 5, "latenc": 8}


def _s(source: int, position: int, text: str, cosine: float, lexical: float = 0.0) -> ScoredSentence:
    return ScoredSentence(source, position, text, cosine, lexical, cosine, np.ones(4))


def test_the_shipped_weights_fit_the_features_and_came_from_tuning_sets_only():
    model = json.loads(WEIGHTS.read_text())
    assert model["features"] == list(FEATURES)
    assert len(model["mean"]) == len(model["std"]) == len(model["weights"]) == len(FEATURES)
    assert all(s > 0 for s in model["std"]) and model["scale"] > 0
    assert model["trained_on"] and not any("heldout" in name for name in model["trained_on"])


def test_features_describe_each_sentence():
    scored = [
        _s(0, 0, "Learned sparse retrieval is slow.", 0.6, 0.5),
        _s(0, 1, "We propose Seismic, which cuts latency to 0.5 ms.", 0.5, 0.25),
        _s(1, 0, "Dense retrieval is another option.", 0.4),
    ]
    x = features("Which paper speeds up learned sparse retrieval?", scored, DF, 100)
    assert x.shape == (3, len(FEATURES)) and np.isfinite(x).all()
    col = {name: x[:, i] for i, name in enumerate(FEATURES)}
    assert list(col["first"]) == [1, 0, 1]
    assert list(col["relative_position"]) == [0, 1, 0]
    assert list(col["paper_rank"]) == [1, 1, 0.5]
    assert list(col["digit"]) == [0, 1, 0]
    assert list(col["cosine_gap"]) == pytest.approx([0, -0.1, -0.2])
    assert list(col["names_contribution_which"]) == [0, 1, 0]  # "which paper" + "we propose"
    assert list(col["coined_name_which"]) == [0, 1, 0]  # Seismic: a new capitalised name
    assert col["idf_overlap"][0] > col["idf_overlap"][2] > 0  # "sparse" is the rarer word
    assert not col["names_asked"].any()  # "which paper" asks for a paper, not for named things


def test_names_asked_marks_sentences_naming_what_the_question_does_not():
    scored = [
        _s(0, 0, "We propose UHD, an ultra-high dimensional sparse representation.", 0.6),
        _s(0, 1, "We test our models with MS MARCO and TREC CAR.", 0.4),
        _s(0, 2, "Binarized vectors are efficient to store.", 0.4),
    ]
    x = features("Which benchmarks were the UHD models evaluated on?", scored, DF, 100)
    assert list(x[:, FEATURES.index("names_asked")]) == [0, 1, 0]  # UHD is in the question itself


def test_rescoring_changes_only_the_score_and_prefers_the_finding_over_the_background():
    background = _s(0, 0, "Learned sparse embeddings are popular for retrieval.", 0.62, 0.5)
    finding = _s(0, 3, "Seismic reaches 0.5 ms per query on MS MARCO with 98% recall.", 0.60, 0.5)
    ranked = rescore("How fast is learned sparse retrieval with Seismic?", [background, finding], DF, 100)
    assert [(r.text, r.cosine, r.position) for r in ranked] == [
        (s.text, s.cosine, s.position) for s in (background, finding)
    ]
    assert ranked[1].score > ranked[0].score
    assert rescore("anything", [], DF, 100) == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda m: {**m, "features": m["features"][:-1] + ["something else"]},
        lambda m: {**m, "weights": m["weights"][:-1]},
        lambda m: {k: v for k, v in m.items() if k != "scale"},
        None,  # not JSON at all
    ],
)
def test_missing_or_foreign_weights_give_one_clear_error(tmp_path, damage):
    model = json.loads(WEIGHTS.read_text())
    path = tmp_path / "w.json"
    path.write_text(json.dumps(damage(model)) if damage else "{ truncated")
    sentence_rank._model.cache_clear()
    try:
        with pytest.raises(ModelUnavailableError, match="fit_sentence_scorer"):
            sentence_rank._model(path)
        with pytest.raises(ModelUnavailableError, match="unreadable"):
            sentence_rank._model(tmp_path / "absent.json")
    finally:
        sentence_rank._model.cache_clear()


def test_the_fitting_script_refuses_the_held_out_set():
    proc = subprocess.run(
        [sys.executable, "scripts/fit_sentence_scorer.py", "--train", "eval/heldout.jsonl", "--out", "/dev/null"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "held-out set is for reporting only" in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "How much does TokenUnify improve downstream electron-microscopy neuron segmentation?",
        "Which papers study attention sinks in LLMs and how do they exploit them?",
        "What batch size was used to train Lightning Attention?",
        "What is the capital of France?",
    ],
)
def test_the_learned_ranking_never_changes_whether_an_answer_is_given(full_index, monkeypatch, question):
    from rag import ask, extractive

    learned = ask(question, settings=full_index)
    monkeypatch.setattr(extractive, "LEARNED_RANK", False)
    plain = ask(question, settings=full_index)
    assert (learned.abstained, learned.confidence) == (plain.abstained, plain.confidence)
    if not learned.abstained:
        assert learned.citations and all(c.paper_id for c in learned.citations)


@pytest.mark.slow
def test_the_shipped_weights_are_what_the_fitting_script_gives_today(full_index):
    """Stale weights fail here: a change to retrieval, sentence splitting or the features changes what
    the scorer was fitted on; re-run `scripts/fit_sentence_scorer.py` (and re-measure). The tolerance
    covers fp32 vs bf16 embeddings on other CPUs."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import fit_sentence_scorer as fss
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    model = json.loads(WEIGHTS.read_text())
    train = [r for name in model["trained_on"] for r in fss.examples(ROOT / "eval" / name, full_index)]
    mean, std, weights = fss.fit(train)
    assert sum(len(r["y"]) for r in train) == pytest.approx(model["sentences"], rel=0.01)
    assert weights == pytest.approx(model["weights"], abs=0.03)
    assert mean == pytest.approx(model["mean"], abs=0.01)


_TEXT = st.text(
    alphabet=st.one_of(st.characters(), st.sampled_from("We propose Seismic (ABC) 0.5% [1] etc. called X")),
    max_size=120,
)


@given(question=_TEXT, texts=st.lists(_TEXT, min_size=1, max_size=6), sources=st.data())
@settings(max_examples=300, deadline=None, database=None)
def test_any_text_gets_finite_scores_in_the_same_order(question, texts, sources):
    """Whatever the question and sentences (empty, only stop words, control characters, lone
    surrogates), every sentence gets a finite learned score and nothing else changes."""
    scored = [
        _s(sources.draw(st.integers(0, 4)), i, t, sources.draw(st.floats(-1, 1)), sources.draw(st.floats(0, 1)))
        for i, t in enumerate(texts)
    ]
    ranked = rescore(question, scored, DF, 100)
    assert [r.text for r in ranked] == texts
    assert all(np.isfinite(r.score) for r in ranked)
