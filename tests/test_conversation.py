"""condense(): follow-ups become standalone questions; standalone questions pass through untouched."""

from __future__ import annotations

import pytest

from rag.conversation import MAX_CHARS, Turn, condense, is_follow_up, split_context, topic_words
from rag.models import Answer, Citation

FIRST = "Which papers make linear attention fast on GPUs, and how?"
TITLES = (
    "Various Lengths, Constant Speed: Efficient Language Modeling with Lightning Attention",
    "Parallelizing Linear Transformers with the Delta Rule over Sequence Length",
)


def answer(question: str, titles: tuple[str, ...] = TITLES) -> Answer:
    cites = [
        Citation(number=n, paper_id=f"p{n}", title=t, passage="...", score=1.0)
        for n, t in enumerate(titles, start=1)
    ]
    return Answer(question=question, text="An answer [1].", citations=cites)


@pytest.mark.parametrize(
    "question",
    [
        "and which of those uses a mixture of experts?",
        "Which of them scales to billions of parameters?",
        "How does it handle long sequences?",
        "what about vision transformers?",
        "And in 2023?",
        "Tell me more about that paper",
        "Do these report results on ImageNet?",
    ],
)
def test_follow_ups_are_detected(question):
    assert is_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        "What is RemoteCLIP?",
        "Which papers use contrastive distillation for point clouds?",
        "How many parameters does ScholarBERT have?",
        "Which methods compress the KV cache of large language models?",
    ],
)
def test_standalone_questions_pass_through(question):
    assert not is_follow_up(question)
    assert condense(question, [answer(FIRST)]) == question


def test_no_history_means_no_change():
    q = "and which of those uses a mixture of experts?"
    assert condense(q, []) == q
    assert condense(q, None) == q
    assert condense("  spaced   out  ", None) == "spaced out"


def test_pointer_at_the_papers_adds_topic_and_cited_titles():
    out = condense("and which of those uses a mixture of experts?", [answer(FIRST)])
    assert out.startswith("Which of those uses a mixture of experts? (context: ")
    core, topic, titles = split_context(out)
    assert core == "Which of those uses a mixture of experts?"
    assert topic.split() == ["make", "linear", "attention", "fast", "GPUs"]
    assert titles == list(TITLES)


def test_pronoun_follow_up_gets_topic_but_no_titles():
    out = condense("How does it handle long sequences?", [answer(FIRST)])
    core, topic, titles = split_context(out)
    assert core == "How does it handle long sequences?"
    assert "linear attention" in topic and titles == []


def test_words_already_in_the_follow_up_are_not_repeated():
    out = condense("and how fast is linear attention there?", [answer(FIRST)])
    _, topic, _ = split_context(out)
    assert "linear" not in topic.split() and "fast" not in topic.split()


def test_chained_follow_ups_keep_the_original_topic_without_nesting():
    second = condense("and which of those uses a mixture of experts?", [answer(FIRST)])
    third = condense("how many experts do they use?", [answer(FIRST), answer(second, ("Some MoE paper",))])
    core, topic, titles = split_context(third)
    assert core == "How many experts do they use?"
    assert "attention" in topic and "mixture" in topic
    assert "context" not in topic and titles == ["Some MoE paper"]
    assert third.count("(context:") == 1


def test_accepts_turns_and_an_abstained_previous_answer():
    out = condense("and which of them is fastest?", [Turn(FIRST)])
    _, topic, titles = split_context(out)
    assert "attention" in topic and titles == []


def test_result_stays_under_the_length_limit():
    long_titles = tuple("A very long title about attention " * 8 + str(i) for i in range(4))
    out = condense("and which of those is best?", [answer(FIRST, long_titles)])
    assert len(out) <= MAX_CHARS
    huge = "and which of those " + "word " * 400
    assert condense(huge, [answer(FIRST)]) == " ".join(huge.split())


def test_topic_words_drop_question_words_and_duplicates():
    assert topic_words("Which papers propose LoRA? Which LoRA variants?") == ["LoRA", "variants"]
