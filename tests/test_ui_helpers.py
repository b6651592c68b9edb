"""The UI's pure parts without a browser: citation links, highlighting, messages, turns, uploads, auth."""

from __future__ import annotations

import pytest

from rag.errors import ConfigError, IndexMissingError, QuestionError
from rag.models import Answer, Citation, IngestReport, Passage, SentenceCheck, SkippedItem, Stats
from ui.chat import parse_filters, run_turn
from ui.cli import auth_for, is_loopback
from ui.corpus import check_uploads, format_report, format_stats
from ui.format import (
    EMPTY_SOURCES,
    escape_md,
    format_answer,
    format_error,
    format_removed,
    highlight_sentences,
    link_citations,
    removed_title,
    render_sources,
)

PASSAGE_A = (
    "Linear attention is slow in causal settings because of cumulative sums. "
    "We split attention into intra-block and inter-block parts. "
    "A tiling technique makes full use of the GPU hardware."
)
PASSAGE_B = "We scale TransNormer to 175 billion parameters. It beats softmax attention models."


def passage(pid: str, title: str, text: str, date: str = "2024-05-27") -> Passage:
    return Passage(
        paper_id=pid, title=title, text=text, score=0.03, metadata={"date": date, "sources": ["small.jsonl"]}
    )


def make_answer(question: str = "How is linear attention made fast?") -> Answer:
    s1 = "A tiling technique makes full use of the GPU hardware [1]."
    s2 = "We scale TransNormer to 175 billion parameters [2]."
    sources = [
        passage("a", "Lightning Attention", PASSAGE_A),
        passage("b", "TransNormer <175B>", PASSAGE_B, "2023-07-27"),
        passage("c", "An uncited paper", "Nothing relevant here."),
    ]
    return Answer(
        question=question,
        text=f"{s1}\n\n{s2}",
        citations=[
            Citation(number=1, paper_id="a", title="Lightning Attention", passage=PASSAGE_A, score=0.03),
            Citation(number=2, paper_id="b", title="TransNormer <175B>", passage=PASSAGE_B, score=0.02),
        ],
        sources=sources,
        sentences=[
            SentenceCheck(text=s1, citations=[1], supported=True, support=1.0),
            SentenceCheck(text=s2, citations=[2], supported=True, support=0.9),
        ],
        removed=[SentenceCheck(text="It is 10x faster [1].", citations=[1], supported=False,
                               reasons=["number(s) 10x not in the cited source"])],
        confidence=0.8,
    )


# -- citation links and messages -----------------------------------------------------------------


def test_link_citations_points_each_number_at_its_turns_card():
    out = link_citations("Fast [1]. Both [1, 2]. Bogus [9].", turn=3, valid={1, 2})
    assert out.count('href="#cite-3-1"') == 2
    assert 'href="#cite-3-2"' in out
    assert "[9]" in out and "cite-3-9" not in out


def test_escape_md_makes_corpus_text_inert():
    out = escape_md("<script>x</script> a_b *c* $$x$$")
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert r"a\_b" in out and r"\*c\*" in out and r"\$\$" in out


def test_format_answer_links_citations_and_reports_verification():
    md = format_answer(make_answer(), turn=0, asked="How is linear attention made fast?")
    assert 'href="#cite-0-1"' in md and 'href="#cite-0-2"' in md
    assert md.count('class="rag-sent"') == 2
    assert "100% of its content words appear in [1]" in md
    assert "2 sentences checked against the cited abstracts" in md
    assert "1 unsupported sentence removed" in md
    assert "Follow-up" not in md


def test_format_answer_notes_a_condensed_follow_up():
    a = make_answer("Which of those scale? (context: linear attention; papers: A; B)")
    md = format_answer(a, turn=1, asked="and which of those scale?")
    assert "Follow-up: searched together with “linear attention” and the 2 papers cited above" in md
    assert "Searched as: Which of those scale?" in md  # full question in the tooltip


def test_abstained_answer_is_a_notice_not_an_error():
    a = Answer(question="capital of France?", text="The abstracts don't answer.", abstained=True,
               sources=[passage("c", "Closest", "Text.")], confidence=0.12)
    md = format_answer(a, turn=0, asked="capital of France?")
    assert 'class="rag-abstain"' in md and "Not answered by these abstracts" in md
    assert "rag-error" not in md and "rag-cite" not in md
    assert "1 closest papers are listed under Sources" in md


def test_removed_sentences_are_listed_with_reasons():
    removed = make_answer().removed
    assert removed_title(removed) == "Verifier removed 1 unsupported sentence"
    md = format_removed(removed)
    assert "~~It is 10x faster.~~" in md and "not in the cited source" in md


def test_errors_are_one_line():
    out = format_error(IndexMissingError("no index at /x: run `rag ingest`\nsecond line"))
    assert "run \\`rag ingest\\`" in out and "second line" not in out and "\n" not in out


# -- highlighting and source cards ---------------------------------------------------------------


def test_quoted_sentence_is_highlighted():
    flags = highlight_sentences(PASSAGE_A, ["A tiling technique makes full use of the GPU hardware [1]."])
    assert [hit for _, hit in flags] == [False, False, True]


def test_paraphrase_highlights_the_most_similar_sentence():
    claim = "They split the attention into intra-block and inter-block parts [1]."
    flags = highlight_sentences(PASSAGE_A, [claim])
    assert [hit for _, hit in flags] == [False, True, False]


def test_unrelated_claim_highlights_nothing():
    flags = highlight_sentences(PASSAGE_A, ["Protein folding is solved [1]."])
    assert not any(hit for _, hit in flags)


def test_render_sources_cards_uncited_and_older_turns():
    assert render_sources([]) == EMPTY_SOURCES
    first, second = make_answer("first?"), make_answer("second?")
    html = render_sources([("first typed?", first), ("second typed?", second)])
    assert 'id="cite-1-1"' in html and 'id="cite-0-1"' in html
    assert html.index('id="cite-1-1"') < html.index('id="cite-0-1"'), "newest first"
    assert "Sources for “second typed?”" in html and "Earlier: “first typed?”" in html
    assert '<details class="rag-turn rag-older">' in html
    assert "TransNormer &lt;175B&gt;" in html, "titles are escaped"
    assert "<mark>A tiling technique makes full use of the GPU hardware.</mark>" in html
    assert "2023-07-27" in html and "small.jsonl" in html
    assert "Also retrieved, not cited (1)" in html and "An uncited paper" in html


# -- one chat turn -------------------------------------------------------------------------------


def fake_stream(final: Answer, seen: list[str]):
    def ask_stream(question, **kwargs):
        seen.append(question)
        yield "A tiling "
        yield "technique [1]."
        yield final

    return ask_stream


def test_run_turn_streams_then_renders_the_verified_answer(settings):
    seen: list[str] = []
    views = list(run_turn("How is linear attention made fast?", [], [], settings=settings,
                          ask_stream=fake_stream(make_answer(), seen)))
    assert "Searching the abstracts" in views[0].messages[-1]["content"]
    assert "A tiling technique \\[1\\]" not in views[2].messages[-1]["content"]
    assert "A tiling technique [1]." in views[2].messages[-1]["content"]
    assert "citations are checked once the answer is complete" in views[2].messages[-1]["content"]
    final = views[-1]
    assert [m["role"] for m in final.messages] == ["user", "assistant", "assistant"]
    assert 'href="#cite-0-1"' in final.messages[1]["content"]
    assert final.messages[2]["metadata"]["title"] == "Verifier removed 1 unsupported sentence"
    assert len(final.turns) == 1 and 'id="cite-0-1"' in final.sources_html
    assert seen == ["How is linear attention made fast?"]


def test_run_turn_condenses_a_follow_up_before_asking(settings):
    seen: list[str] = []
    first = list(run_turn("Which papers make linear attention fast on GPUs?", [], [], settings=settings,
                          ask_stream=fake_stream(make_answer(), seen)))[-1]
    list(run_turn("and which of those scale to billions of parameters?", first.messages, first.turns,
                  settings=settings, ask_stream=fake_stream(make_answer("condensed"), seen)))
    assert seen[1].startswith("Which of those scale to billions of parameters? (context: ")
    assert "Lightning Attention" in seen[1]


def test_run_turn_shows_errors_as_one_line_and_keeps_history(settings):
    def broken(question, **kwargs):
        raise IndexMissingError("no index at /tmp/x (collection 'abstracts'): run `rag ingest`")
        yield  # pragma: no cover

    views = list(run_turn("anything?", [], [], settings=settings, ask_stream=broken))
    last = views[-1]
    shown = last.messages[-1]["content"]
    assert 'class="rag-error"' in shown and "rag ingest" in shown
    assert last.turns == []


def test_run_turn_survives_an_unexpected_exception(settings):
    def buggy(question, **kwargs):
        raise KeyError("boom")
        yield  # pragma: no cover

    last = list(run_turn("anything?", [], [], settings=settings, ask_stream=buggy))[-1]
    shown = last.messages[-1]["content"]
    assert "internal error" in shown and "Traceback" not in shown


def test_parse_filters():
    assert parse_filters("", " ", []) is None
    f = parse_filters("2023-01-01", "2024-12-31", ["a.jsonl"])
    assert str(f.date_from) == "2023-01-01" and f.sources == ["a.jsonl"]
    with pytest.raises(QuestionError, match="YYYY-MM-DD"):
        parse_filters("2024-13-01", "", None)
    with pytest.raises(QuestionError, match="after the 'to' date"):
        parse_filters("2025-01-01", "2024-01-01", None)


# -- corpus tab ----------------------------------------------------------------------------------


def test_check_uploads_limits_type_size_and_emptiness(tmp_path):
    ok = tmp_path / "papers.jsonl"
    ok.write_text('{"title": "T", "abstract": "A"}\n')
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    big = tmp_path / "big.bib"
    big.write_bytes(b"x" * 2_000_000)
    result = check_uploads([ok, pdf, empty, big], max_mb=1)
    assert result.accepted == [ok]
    assert any("paper.pdf: unsupported file type '.pdf'" in p for p in result.problems)
    assert any("empty.csv: the file is empty" in p for p in result.problems)
    assert any("big.bib: 1.9 MB is over the 1 MB limit (RAG_UI__MAX_UPLOAD_MB)" in p for p in result.problems)


def test_format_report_and_stats():
    report = IngestReport(files=1, entries=3, papers=2, added=2, chunks_written=2, seconds=0.4,
                          skipped=[SkippedItem(source="a.jsonl", line=3, reason="no abstract")])
    md = format_report(report, ["x.pdf: unsupported file type '.pdf'"])
    assert "2 added" in md and "skipped 1 × no abstract: a.jsonl:3" in md and "not ingested: x.pdf" in md
    stats = Stats(papers=26, chunks=28, embedding_model="local:all-MiniLM-L6-v2", embedding_dim=384,
                  store="/data/chroma", collection="abstracts", sources={"small.jsonl": 24})
    md = format_stats(stats)
    assert "26 papers in 28 chunks" in md and "small.jsonl" in md and "384-d" in md
    assert "No index yet" in format_stats(None, "run `rag ingest`")


def test_empty_index_shows_the_banner(settings):
    from ui.handlers import Handlers

    banner, stats_md, choices = Handlers(settings).refresh()
    assert banner["visible"] is True and "No index yet" in stats_md and choices["choices"] == []


def test_build_app_constructs(settings):
    from ui.app import build_app

    demo = build_app(settings)
    assert demo.title == "Ask the abstracts"


# -- exposure ------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.1.1"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "example.org"])
def test_non_loopback_hosts(host):
    assert not is_loopback(host)


def test_auth_required_off_loopback(tmp_path):
    from conftest import make_settings

    open_settings = make_settings(tmp_path)
    assert auth_for(open_settings, "127.0.0.1") is None
    with pytest.raises(ConfigError, match="RAG_UI__USERNAME and RAG_UI__PASSWORD"):
        auth_for(open_settings, "0.0.0.0")
    locked = make_settings(tmp_path, ui={"username": "ana", "password": "s3cret"})
    assert auth_for(locked, "0.0.0.0") == ("ana", "s3cret")
    half = make_settings(tmp_path, ui={"username": "ana"})
    with pytest.raises(ConfigError, match="both"):
        auth_for(half, "127.0.0.1")


def test_cli_refuses_a_public_host_without_login(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from rag.cli import app

    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["ui", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "refusing to serve the UI on 0.0.0.0 without a login" in result.output
    assert "Traceback" not in result.output
