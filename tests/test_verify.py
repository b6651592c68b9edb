"""The citation gate: structure (markers, renumbering, removal) and each faithfulness check."""

from __future__ import annotations

import pytest

from rag.models import Passage
from rag.verify import assess, check_sentence, citations_in, strip_markers, verify_answer

LZN = Passage(
    paper_id="p1",
    title="Latent Zoning Network: A Unified Principle for Generative Modeling",
    text=(
        "We propose Latent Zoning Network (LZN) to unify generative modeling and classification. "
        "When combined with the Rectified Flow model, LZN improves FID on CIFAR10 from 2.76 to 2.59 "
        "without modifying the training objective. "
        "LZN is trained on 8 GPUs for 3 days."
    ),
    score=1.0,
)
MOFME = Passage(
    paper_id="p2",
    title="Efficient Deweather Mixture-of-Experts",
    text=(
        "MoFME saves more than 72% of parameters and 39% of inference time compared with the "
        "conventional MoE counterpart. It does not need task-specific experts."
    ),
    score=0.9,
)
SOURCES = [LZN, MOFME]


def test_markers_are_parsed_and_stripped():
    assert citations_in("A claim [1, 2] and more [2][3].") == [1, 2, 3]
    assert strip_markers("LZN improves FID [1].") == "LZN improves FID."


def test_verbatim_quote_passes():
    c = check_sentence("LZN is trained on 8 GPUs for 3 days [1].", SOURCES)
    assert c.supported and c.support == 1.0


def test_missing_or_invalid_citation_fails():
    assert check_sentence("LZN is trained on 8 GPUs for 3 days.", SOURCES).reasons == ["no citation"]
    c = check_sentence("LZN is trained on 8 GPUs for 3 days [7].", SOURCES)
    assert not c.supported and "not a listed source" in c.reasons[0]


def test_light_paraphrase_passes():
    s = "Combined with Rectified Flow, LZN improves the CIFAR10 FID from 2.76 to 2.59 [1]."
    assert check_sentence(s, SOURCES).supported


def test_union_of_citations_supports_a_fused_claim():
    s = "LZN improves FID on CIFAR10 to 2.59, while MoFME saves 72% of parameters [1, 2]."
    assert check_sentence(s, SOURCES).supported
    assert not check_sentence(s, SOURCES[:1] + [LZN]).supported  # [2] is LZN again: 72% unsupported


@pytest.mark.parametrize(
    "sentence, reason",
    [
        ("LZN improves FID on CIFAR10 from 2.76 to 2.41 [1].", "2.41"),  # new number
        ("LZN is trained on 3 GPUs for 3 days [1].", "3"),  # number moved from elsewhere
        ("When combined with the Rectified Flow model, BigGAN improves FID on CIFAR10 [1].", "BigGAN"),
        ("When combined with the Rectified Flow model, LZN does not improve FID on CIFAR10 [1].", "negat"),
        ("When combined with the Rectified Flow model, LZN degrades FID on CIFAR10 [1].", "degrad"),
        ("MoFME needs task-specific experts [2].", "negation"),  # the source says "does not need"
        ("MoFME saves more than 72% of parameters and 39% of inference time [1].", "72"),  # wrong paper
        ("Vision transformers learn strong features from unlabeled satellite images [1].", "words"),
    ],
)
def test_unfaithful_sentences_fail(sentence, reason):
    c = check_sentence(sentence, SOURCES)
    assert not c.supported
    assert any(reason in r for r in c.reasons), c.reasons


def test_not_only_is_not_a_negation():
    p = Passage(paper_id="x", title="T", text="The method is not only fast but also accurate on ImageNet.", score=1)
    assert check_sentence("The method is fast and accurate on ImageNet [1].", [p]).supported


def test_assess_reports_scores_and_evidence():
    a = assess("LZN improves FID on CIFAR10 from 2.76 to 2.59 with Rectified Flow.", [LZN])
    assert a.supported and a.aligned >= 0.9 and a.coverage >= 0.9
    assert a.evidence and "2.59" in a.evidence[0]


def test_verify_answer_drops_unsupported_and_renumbers():
    text = (
        "MoFME saves more than 72% of parameters [2]. It improves FID to 9.99 [1].\n\n"
        "LZN is trained on 8 GPUs for 3 days [1]."
    )
    v = verify_answer(text, SOURCES)
    assert v.text == "MoFME saves more than 72% of parameters [1].\n\nLZN is trained on 8 GPUs for 3 days [2]."
    assert [c.paper_id for c in v.citations] == ["p2", "p1"]
    assert [c.citations for c in v.sentences] == [[1], [2]]
    assert len(v.removed) == 1 and "9.99" in v.removed[0].reasons[0]


@pytest.mark.slow
def test_embedding_signal_is_optional_and_flags_off_topic_claims(settings):
    from rag.embeddings import get_embedder

    emb = get_embedder(settings)
    ok = assess("LZN improves the CIFAR10 FID from 2.76 to 2.59 with Rectified Flow.", [LZN], embedder=emb)
    assert ok.supported and ok.embedding is not None and ok.embedding > 0.7
    # lexically plausible, semantically off: made of the abstract's words
    off = assess("The objective of the training model is generative classification.", [LZN], embedder=emb)
    assert off.embedding is not None and off.embedding < ok.embedding


def test_a_cited_title_in_the_sentence_is_a_label_not_a_claim():
    p = Passage(
        paper_id="p9",
        title="To Interpolate or not to Interpolate: PRF, Dense and Sparse Retrievers",
        text="In this paper we consider the problem of combining the relevance signals from sparse and "
        "dense retrievers in the context of Pseudo Relevance Feedback (PRF).",
        score=1.0,
    )
    s = (
        "**To Interpolate or not to Interpolate: PRF, Dense and Sparse Retrievers** [1] — In this paper we "
        "consider the problem of combining the relevance signals from sparse and dense retrievers in the "
        "context of Pseudo Relevance Feedback (PRF) [1]."
    )
    assert check_sentence(s, [p]).supported
    assert not check_sentence("**" + p.title + "** [1] — It does not use PRF [1].", [p]).supported


def test_sentence_with_no_content_words_is_not_supported():
    from rag.models import Passage
    from rag.verify import check_sentence

    src = [Passage(paper_id="p1", title="A Title", text="We propose a method that works well.", score=1.0)]
    for filler in ("The answer is: [1].", "2 [1]."):
        assert not check_sentence(filler, src).supported


# -- an abstract's own reference markers (issue 10, item 1) ----------------------------------------

SALAMANDER = Passage(
    paper_id="s",
    title="Regrowth Forecasting [2]",
    text="We study amphibians. Our model forecasts salamander tail regrowth with 88 percent accuracy [3]. "
    "It also runs on phones [7, 8].",
    score=1.0,
)
OTHER = Passage(paper_id="o", title="Unrelated Paper", text="We study compilers.", score=0.5)


def test_corpus_reference_markers_are_neutralised_before_composing_and_verifying():
    from rag.extractive import ScoredSentence, compose
    from rag.text import neutralize_refs, split_sentences

    sentences = split_sentences(neutralize_refs(SALAMANDER.text))
    assert sentences[1] == "Our model forecasts salamander tail regrowth with 88 percent accuracy."
    chosen = [ScoredSentence(0, i, s, 1.0, 0.0, 1.0, None) for i, s in enumerate(sentences) if i]
    text = compose(chosen, [SALAMANDER, OTHER])
    assert "[3]" not in text and "[7" not in text and "Regrowth Forecasting**" in text  # title's [2] gone too
    v = verify_answer(text, [SALAMANDER, OTHER])
    assert not v.removed, v.removed  # true sentences are kept, not dropped for a bogus citation
    assert [c.paper_id for c in v.citations] == ["s"]  # the abstract's [3] never became a citation
    assert "accuracy [1]." in v.text and "[2]" not in v.text


def test_a_generated_sentence_copying_an_abstract_marker_is_checked_against_real_sources():
    # the model wrote the abstract's "[3]" as if it were a source number: there is no source 3
    v = verify_answer("Our model forecasts salamander tail regrowth with 88 percent accuracy [3].", [SALAMANDER, OTHER])
    assert not v.citations and v.removed and "not a listed source" in v.removed[0].reasons[0]
