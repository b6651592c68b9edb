"""The model check (rag.llm.check) with the real packaged Qwen2.5-Coder-1.5B on the small corpus."""

from __future__ import annotations

import pytest

from conftest import with_sections
from rag import ask
from rag.llm.check import p_answers
from rag.models import NOT_ANSWERED_TEXT
from rag.settings import Settings

pytestmark = pytest.mark.slow

ANSWERABLE = "How many parameters and how much inference time does MoFME save for multi-weather removal?"
NEAR_DOMAIN = "Does MoFME use dropout in its experts?"  # the abstract never says


@pytest.fixture
def checked(small_index, qwen15) -> Settings:
    return with_sections(small_index, llm={"local_model": str(qwen15)}, answer={"model_check": True})


def test_quotes_that_answer_score_high_and_unrelated_ones_low(checked):
    quote = (
        "**Efficient Deweather Mixture-of-Experts** [1] — MoFME reduces the model size by 72% and the "
        "inference time by 39% compared with a conventional MoE model [1]."
    )
    other = "**Prompt Tuning** [1] — We propose an efficient prompt tuning method by multi-space projection [1]."
    assert p_answers(checked, ANSWERABLE, quote) > 0.6
    assert p_answers(checked, ANSWERABLE, other) < 0.4


@pytest.mark.parametrize("reads", ["abstract", "quotes"])
def test_answerable_question_keeps_its_quotes_and_reports_the_check(checked, reads):
    threshold = 0.25 if reads == "abstract" else 0.4
    checked = with_sections(checked, answer={"model_check_reads": reads, "model_check_threshold": threshold})
    a = ask(ANSWERABLE, settings=checked)
    assert not a.abstained and a.citations
    assert a.check is not None and a.check >= checked.answer.model_check_threshold
    assert a.timings["check"] > 0


def test_near_domain_question_is_withheld_after_the_model_reads_it(checked):
    unchecked = ask(NEAR_DOMAIN, settings=with_sections(checked, answer={"model_check": False}))
    assert not unchecked.abstained, "the evidence score alone answers this one: the check must catch it"
    a = ask(NEAR_DOMAIN, settings=checked)
    assert a.abstained and a.text == NOT_ANSWERED_TEXT and not a.citations
    assert a.check is not None and a.check < checked.answer.model_check_threshold
    assert a.draft == unchecked.text  # the withheld quotes stay inspectable


def test_missing_model_answers_unchecked_with_a_notice(small_index, tmp_path):
    s = with_sections(small_index, llm={"local_model": str(tmp_path / "gone.gguf")}, answer={"model_check": True})
    a = ask(ANSWERABLE, settings=s)
    assert not a.abstained and a.check is None  # strong evidence: above the stricter bar
    assert len(a.notices) == 1 and "could not check" in a.notices[0] and "gone.gguf" in a.notices[0]


def test_missing_model_holds_weak_evidence_to_the_stricter_bar(small_index, tmp_path):
    # the check would have decided between the two bars; without it, the unchecked bar applies
    s = with_sections(
        small_index,
        llm={"local_model": str(tmp_path / "gone.gguf")},
        answer={"model_check": True, "model_check_evidence_threshold": -9.0, "abstain_threshold": 0.99},
    )
    a = ask(ANSWERABLE, settings=s)
    assert a.abstained and not a.citations and a.draft
    assert len(a.notices) == 1 and "evidence alone is too weak" in a.notices[0]


def test_the_check_reads_the_quotes_or_the_top_abstract(settings):
    from rag.llm.check import reading
    from rag.models import Passage

    top = Passage(paper_id="a", title="Top paper", text="Its whole abstract.", score=1.0)
    other = Passage(paper_id="b", title="Second", text="Another abstract.", score=0.5)
    quotes = with_sections(settings, answer={"model_check_reads": "quotes"})
    assert reading(quotes, "the quotes [1]", [top, other]) == "the quotes [1]"
    abstract = with_sections(settings, answer={"model_check_reads": "abstract"})
    assert reading(abstract, "the quotes [1]", [top, other]) == "**Top paper** [1] — Its whole abstract."
    assert reading(abstract, "the quotes [1]", []) == "the quotes [1]"


# --- the model's own short answer (answer.model_check_reply) -------------------------------------------

BATCH = "What batch size was MoFME trained with?"  # the abstract gives no batch size


def test_the_models_own_answer_names_the_figure_or_says_not_stated(checked):
    from rag import retrieve
    from rag.llm.check import model_reply, reading, reply_withholds

    passages = retrieve(ANSWERABLE, settings=checked)
    read = reading(checked, "", passages)
    reply, cut = model_reply(checked, ANSWERABLE, read)
    assert ("72" in reply or "39" in reply) and reply_withholds(reply, cut, read) is None, reply
    reply, cut = model_reply(checked, BATCH, read)
    assert reply_withholds(reply, cut, read) is not None, reply


def test_a_detail_the_abstract_lacks_is_withheld_after_the_models_own_answer(checked):
    replying = with_sections(checked, answer={"model_check_reply": True})
    a = ask(ANSWERABLE, settings=replying)
    assert not a.abstained and a.citations and a.check_reply and a.timings["check_reply"] > 0
    before = ask(BATCH, settings=checked)
    after = ask(BATCH, settings=replying)
    assert after.abstained and after.text == NOT_ANSWERED_TEXT and not after.citations
    if not before.abstained:  # the yes/no check let it through: the reply caught it
        assert after.check is not None and after.check_reply and after.draft == before.text


def test_which_paper_questions_skip_the_models_own_answer(checked):
    replying = with_sections(checked, answer={"model_check_reply": True})
    a = ask("Which paper proposes a mixture of experts for removing several kinds of weather?", settings=replying)
    assert "check_reply" not in a.timings and a.check_reply is None
