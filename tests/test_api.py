"""The front door: ask() answers with verified citations or abstains; bad questions are refused."""

from __future__ import annotations

import pytest

from rag import Answer, Sources, ask, ask_stream, retrieve
from rag.errors import IndexMissingError, QuestionError
from rag.verify import check_sentence

pytestmark = pytest.mark.slow


def test_answer_cites_retrieved_papers_and_every_sentence_verifies(full_index):
    a = ask("How much does Latent Zoning Network improve FID on CIFAR10?", settings=full_index)
    assert isinstance(a, Answer) and not a.abstained and a.mode == "extractive"
    assert "2.59" in a.text  # the key figure of that abstract
    assert a.citations[0].title.startswith("Latent Zoning Network")
    numbers = [c.number for c in a.citations]
    assert numbers == list(range(1, len(numbers) + 1))  # numbered in order of first use
    cited = {c.paper_id for c in a.citations}
    assert cited <= {p.paper_id for p in a.sources}
    # re-check every sentence independently against the citations as the user sees them
    by_number = {c.number: next(p for p in a.sources if p.paper_id == c.paper_id) for c in a.citations}
    sources = [by_number[n] for n in sorted(by_number)]
    for s in a.sentences:
        assert check_sentence(s.text, sources).supported, s


def test_multi_paper_question_cites_several_papers(full_index):
    a = ask("Which papers make linear attention efficient in practice on GPUs?", settings=full_index)
    assert not a.abstained
    assert len(a.citations) >= 2


def test_off_topic_question_abstains(full_index):
    a = ask("Which country won the 2018 FIFA World Cup?", settings=full_index)
    assert a.abstained
    assert a.citations == []
    assert "don't answer" in a.text
    assert a.sources  # the closest papers are still shown


def test_quantity_question_the_abstracts_leave_open_abstains(full_index):
    """Near-domain: the right paper is found, but its abstract gives no figure for what is asked."""
    q = "What top-1 accuracy do Squeeze-and-Excitation networks reach on CIFAR-10?"
    a = ask(q, settings=full_index)
    assert a.abstained and a.citations == []
    assert "don't answer" in a.text and "no figure" in a.text  # says why
    assert any(p.title.startswith("Squeeze-and-Excitation") for p in a.sources)  # the paper is still shown
    off = ask(
        q,
        settings=full_index.model_copy(
            update={"answer": full_index.answer.model_copy(update={"figure_check_papers": 0, "name_check": False})}
        ),
    )
    assert not off.abstained  # without the figure check the quoted answer goes out (the old behaviour)


def test_a_figure_about_a_named_system_must_come_from_a_paper_that_names_it(full_index):
    """Near-domain: Arctic-Embed 2.0 is found but never says how many languages it supports; another top
    paper's figure about languages must not answer for it."""
    q = "How many languages are supported by the Arctic-Embed 2.0 models?"
    a = ask(q, settings=full_index)
    assert a.abstained and "no figure" in a.text
    assert any(p.title.startswith("Arctic-Embed 2.0") for p in a.sources)


def test_a_name_no_retrieved_paper_mentions_abstains_and_says_which(full_index):
    """Near-domain: papers on graph transformers and molecules exist, none mentions the QM9 benchmark."""
    q = "Which paper evaluates graph transformers for molecular property prediction on the QM9 benchmark?"
    a = ask(q, settings=full_index)
    assert a.abstained and a.citations == [] and a.sources
    assert "never mention QM9" in a.text
    assert not any("qm9" in f"{p.title} {p.text}".lower() for p in a.sources)


def test_a_name_the_papers_mention_does_not_abstain(full_index):
    a = ask("What does MTLoRA add to a shared backbone for multi-task learning?", settings=full_index)
    assert not a.abstained and "MTLoRA" in a.text


def test_llm_mode_abstains_on_the_name_check_without_asking_the_model(full_index, tmp_path):
    s = full_index.model_copy(
        update={"llm": full_index.llm.model_copy(update={"local_model": str(tmp_path / "absent.gguf")})}
    )
    q = "Which paper evaluates graph transformers for molecular property prediction on the QM9 benchmark?"
    a = ask(q, settings=s, answer_mode="llm")
    assert a.abstained and not a.notices and "load" not in a.timings and "never mention QM9" in a.text


def test_llm_mode_abstains_on_the_figure_check_without_asking_the_model(full_index, tmp_path):
    """The model file does not exist: any attempt to use it would show up as a notice and a fallback."""
    s = full_index.model_copy(
        update={"llm": full_index.llm.model_copy(update={"local_model": str(tmp_path / "absent.gguf")})}
    )
    a = ask("What top-1 accuracy do Squeeze-and-Excitation networks reach on CIFAR-10?", settings=s, answer_mode="llm")
    assert a.abstained and not a.notices and "load" not in a.timings and "no figure" in a.text


def test_quantity_question_the_abstract_answers_still_answers(full_index):
    a = ask("How many small proxy models does RegMix train to fit its regression model?", settings=full_index)
    assert not a.abstained and "512" in a.text


def test_extractive_stream_is_sources_then_the_answer(full_index):
    """The documented order: sources as soon as retrieval is done, the verified answer last; the
    extractive answerer has no unverified text to stream in between."""
    items = list(ask_stream("What is MTLoRA?", settings=full_index))
    assert [type(x) for x in items] == [Sources, Answer]
    assert items[0].passages and items[0].seconds <= items[1].timings["total"]
    assert not items[1].abstained and "MTLoRA" in items[1].text
    assert {c.paper_id for c in items[1].citations} <= {p.paper_id for p in items[0].passages}


@pytest.mark.parametrize("q", ["", "   ", "\n\t"])
def test_empty_question_is_refused(full_index, q):
    with pytest.raises(QuestionError, match="empty"):
        ask(q, settings=full_index)


def test_huge_question_is_refused_with_the_limit(full_index):
    with pytest.raises(QuestionError, match="limit is 2000"):
        ask("attention " * 1000, settings=full_index)


def test_question_of_only_stopwords_still_answers_or_abstains(full_index):
    a = ask("what is the", settings=full_index)
    assert isinstance(a, Answer)


def test_no_index_says_how_to_build_it(settings):
    with pytest.raises(IndexMissingError, match="rag ingest"):
        ask("anything", settings=settings)


def test_follow_up_with_history_is_condensed_before_retrieval(full_index):
    first = ask("Which papers make linear attention fast on GPUs?", settings=full_index)
    follow = ask("and which of those scale to billions of parameters?", history=[first], settings=full_index)
    assert follow.question != "and which of those scale to billions of parameters?"
    assert "linear attention" in follow.question.lower()


def test_unknown_answer_mode_is_a_config_error(full_index):
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="extractive, llm or auto"):
        ask("What is MTLoRA?", answer_mode="telepathy", settings=full_index)


def test_question_with_broken_unicode_is_repaired_and_answered(small_index):
    """Lone surrogates (undecodable bytes, a broken UTF-16 pair) used to raise TypeError in retrieval."""
    a = ask("linear attention \ud800 caf\udce9", settings=small_index)
    assert isinstance(a, Answer) and a.question == "linear attention \ufffd caf\ufffd" and a.sources
    assert retrieve("\udce9 attention", settings=small_index)


@pytest.mark.parametrize("k", [0, -5, 51, 100_000])
def test_k_outside_the_settings_range_is_refused(small_index, k):
    for call in (
        lambda: ask("linear attention", k=k, settings=small_index),
        lambda: retrieve("linear attention", k=k, settings=small_index),
        lambda: next(ask_stream("linear attention", k=k, settings=small_index, answer_mode="llm")),
    ):
        with pytest.raises(QuestionError, match=f"is {k}: use a whole number from 1 to 50"):
            call()
