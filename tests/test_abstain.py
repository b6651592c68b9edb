"""The figure check of quantity questions (rag.abstain.figure_terms / states_figure) and the name check
(rag.abstain.names_in / missing_names)."""

from __future__ import annotations

import pytest

from rag import abstain
from rag.abstain import (
    answers_quantity,
    asks_detail,
    asks_names,
    figure_terms,
    given_figures,
    missing_names,
    name_share,
    names_in,
    papers_named,
    states_figure,
)
from rag.models import Passage


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
        # metrics asked for by name (eval/tune_extra.jsonl)
        ("What mIoU does DenseCLIP achieve on ADE20K?", ["miou"]),
        ("What MRR@10 do the binarized sparse representations reach?", ["mrr"]),
        ("What Spearman correlation with human judgments does EREDAT reach?", ["correl"]),
        ("By what factor does MTLoRA cut trainable parameters?", None),  # written "3.6x", not "factor"
        ("How many of the ten datasets used to evaluate SCARLet are out-of-domain?", []),  # any figure
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


@pytest.fixture
def closer(monkeypatch):
    """The closer figure check tried on 2026-12-05 and off by default (eval/runs/figure_given)."""
    for name, value in (
        ("FIGURE_NOT_GIVEN", True),
        ("FIGURE_WINDOW", 7),
        ("NAME_DIGITS_NOT_FIGURES", True),
        ("HOW_MANY_OF", True),
    ):
        monkeypatch.setattr(abstain, name, value)


@pytest.mark.parametrize(
    ("terms", "sentence", "states"),
    [
        # digits inside names are not figures; a unit after digits still makes one
        ([], "We fine-tune ResNet-50 and T5 on ImageNet-1K for top-1 accuracy and 3D generation.", False),
        ([], "We train a 7B model.", True),
        ([], "It gives a 3.6x speedup.", True),
        # the figure must sit within FIGURE_WINDOW words of the asked-for term
        (["batch"], "It is robust to the batch size, and we release code for all 12 of the tasks we studied.", False),
        (["batch"], "We train with a batch size of 4096.", True),
    ],
)
def test_closer_figure_check(closer, terms, sentence, states):
    assert states_figure(terms, sentence) is states


def test_closer_figure_check_reads_how_many_of_the_whole(closer):
    q = "How many of the ten datasets used to evaluate SCARLet are out-of-domain?"
    assert figure_terms(q) == ["dataset"]


@pytest.mark.parametrize(
    ("question", "sentence", "states"),
    [
        # the question's own figures are its conditions, not the answer
        ("How many of the ten datasets are out-of-domain?", "We evaluate on ten datasets.", False),
        ("How many of the ten datasets are out-of-domain?", "Four of the ten datasets are out-of-domain.", True),
        ("What perplexity does the 1.3B model reach?", "Our 1.3B model has lower perplexity.", False),
        ("What perplexity does the 1.3B model reach?", "Our 1.3B model reaches a perplexity of 16.4.", True),
    ],
)
def test_closer_figure_check_skips_the_questions_own_figures(closer, question, sentence, states):
    assert states_figure(figure_terms(question) or [], sentence, given_figures(question)) is states


@pytest.mark.parametrize(
    ("focus", "sentence", "answers"),
    [
        (["nlp"], "ELMo significantly improves the state of the art across six challenging NLP problems.", True),
        (["architectur"], "We compare ten diverse model architectures.", True),  # a count in words
        (["architectur"], "One of the architectures is an MLP-Mixer.", False),  # "one" reads as a word
        (["nlp"], "It improves many NLP problems.", False),
    ],
)
def test_answers_quantity_reads_counts_in_words(focus, sentence, answers):
    assert answers_quantity(focus, sentence) is answers


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("Which benchmarks were the UHD sparse retrieval models evaluated on?", True),
        ("What base multimodal LLM does HermesFlow fine-tune? Which knowledge base is injected?", True),
        ("Which paper introduces UHD sparse representations?", False),
        ("How many layers does the model have?", False),
    ],
)
def test_asks_names(question, asks):
    assert asks_names(question) is asks


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("Which paper evaluates graph transformers on the QM9 benchmark?", ["QM9"]),
        ("What accuracy does PoNet obtain on the Path-X task?", ["PoNet", "Path-X"]),
        ("What FID does it reach on ImageNet 256x256?", ["FID", "ImageNet", "256x256"]),
        ("How many GPUs were needed?", ["GPU"]),  # plural of an acronym
        ("Which paper benchmarks LLM-based forecasting on ETTh1?", ["LLM", "ETTh1"]),  # the name part of a compound
        ("Which papers analyze what the feed-forward (MLP) sublayers do?", []),  # a gloss in parentheses
        ("Where a seq2seq model generates identifiers", []),  # lower-case compounds are vocabulary
        ("Which papers make linear attention fast?", []),  # a capitalised first word is not a name
    ],
)
def test_names_in(question, names):
    assert names_in(question) == names


def test_missing_names_forgives_spelling_and_skips_common_names():
    df, n = {"qm9": 1, "llm": 500, "ponet": 2}, 1000
    texts = ["PoNet reaches 80% on the Path X task.", "A large language model..."]
    q = "Does PoNet beat LLM baselines on Path-X and on QM9?"
    assert missing_names(q, texts, df, n, max_share=0.03) == ["QM9"]  # LLM: in half the corpus, not checked
    q2 = "Does PoNet beat MEMIT baselines on Path-X and on QM9?"
    assert missing_names(q2, texts, {**df, "memit": 500}, n, max_share=0.9) == ["MEMIT", "QM9"]
    assert missing_names(q, texts + ["results on qm-9"], df, n, max_share=0.03) == []


def test_short_acronyms_may_be_spelled_out_but_specific_names_may_not():
    texts = ["We map concepts to combinations of convolutional neural network filters."]
    q = "Which paper builds concept embeddings from CNN filter responses, unlike GPTQ or BraTS?"
    assert missing_names(q, texts, {}, 1000, max_share=0.01) == ["GPTQ", "BraTS"]  # not CNN


def test_name_share_reads_the_index_counts():
    df = {"qm9": 30, "path": 400}
    assert name_share("QM9", df, 1000) == pytest.approx(0.03)
    assert name_share("Path-X", df, 1000) == 0.0  # not one indexed word: counts as rare
    assert name_share("AWQ", df, 1000) == 0.0


def test_papers_named_finds_the_passages_that_mention_a_rare_name_of_the_question():
    passages = [
        Passage(
            paper_id="a", title="Scaling laws for downstream tasks", text="Dataset size matters: 12 sizes.", score=1
        ),
        Passage(paper_id="b", title="RemoteCLIP: a foundation model", text="Zero-shot gains of 6.39%.", score=0.9),
    ]
    assert papers_named("What batch size was used when pretraining RemoteCLIP?", passages, {}, 100, 0.03) == [1]
    assert papers_named("What batch size was used?", passages, {}, 100, 0.03) == []  # no name: no restriction
    # a name common in the corpus (in more than 3% of chunks) restricts nothing
    assert papers_named("What batch size does CLIP use?", passages, {"clip": 50}, 100, 0.03) == []


@pytest.mark.parametrize(
    ("question", "detail"),
    [
        ("How many layers does the ELMo language model have?", True),
        ("What batch size was cMIM trained with?", True),
        ("Which datasets was GraphPrompt evaluated on?", True),
        ("Which papers study attention sinks, and how?", False),  # a paper question
        ("Is there a way to encode a long text first and cut it afterwards?", False),  # yes/no
        ("What do the feed-forward sublayers of a transformer store?", False),  # an explanation
    ],
)
def test_asks_detail_is_a_figure_or_named_thing_not_a_paper(question, detail):
    assert asks_detail(question) is detail
