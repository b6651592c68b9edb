"""The UI's pure parts without a browser: citation links, highlighting, messages, turns, uploads, auth."""

from __future__ import annotations

import html
import re

import pytest

from rag.errors import ConfigError, IndexMissingError, QuestionError
from rag.models import Answer, Citation, IngestReport, Passage, Preview, SentenceCheck, SkippedItem, Sources, Stats
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


def visible(markup: str) -> str:
    """Roughly what the browser shows for chat Markdown made by ui.format: tags dropped, references decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


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
    out = link_citations(escape_md("Fast [1]. Both [1, 2]. Bogus [9]."), turn=3, valid={1, 2})
    assert out.count('href="#cite-3-1"') == 2
    assert 'href="#cite-3-2"' in out
    assert "cite-3-9" not in out
    assert visible(out) == "Fast [1]. Both [1][2]. Bogus [9]."


HOSTILE = [
    "<script>x</script> a_b *c* $$x$$",
    "[click](http://127.0.0.1:9/x) ![t](http://127.0.0.1:9/t.png) <img src=x onerror=alert(1)>",
    "see http://127.0.0.1:9/a, www.example.org, ftp://h/x and me@example.org; <http://h/angle>",
    "[ref]\n\n[ref]: http://127.0.0.1:9/def",
    "- item\n+ item\n1. item\n2) item\n# H\n> q\nTitle\n===\n---\n```js\n|a|b|\n~~~\n    code",
    "`code` ~~s~~ \\*e\\* {x} ^y &amp; &#91;",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_md_makes_corpus_text_inert(text):
    out = escape_md(text)
    assert visible(out) == text, "shown exactly as written"
    bare = re.sub(r"&#\d+;", "", out)  # what is left outside character references
    assert not re.search(r"[\\`*_~\[\]()!<>&$|#:@{}^]", bare), bare
    assert "www." not in bare.lower()
    for line in out.splitlines():  # no list item, setext underline or thematic break can start
        assert not re.match(r"[ \t]*([-+=]|\d)", line), line


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
    assert "Searched as: Which of those scale?" in html.unescape(md)  # full question in the tooltip


def test_abstained_answer_is_a_notice_not_an_error():
    a = Answer(question="capital of France?", text="The abstracts don't answer.", abstained=True,
               sources=[passage("c", "Closest", "Text.")], confidence=0.12)
    md = format_answer(a, turn=0, asked="capital of France?")
    assert 'class="rag-abstain"' in md and "Not answered by these abstracts" in md
    assert "rag-error" not in md and "rag-cite" not in md
    assert "1 closest papers are listed under Sources" in md


def test_answer_withheld_by_the_model_check_says_so_and_shows_the_quotes_inertly():
    a = Answer(question="which GPU trained X?", text="...", abstained=True, check=0.21, confidence=0.7,
               draft="**X** [1] — We train X <img src=x onerror=alert(1)> fast [1].",
               sources=[passage("c", "Closest", "Text.")])
    md = format_answer(a, turn=0)
    assert "found no answer in them (P 0.21)" in md and "evidence" not in md
    assert "Quotes the check withheld" in md and "<img" not in md and "&#60;img" in md


def test_answer_withheld_on_the_models_own_reply_quotes_that_reply_inertly():
    a = Answer(question="which GPU trained X?", text="...", abstained=True, check=0.83, confidence=0.7,
               check_reply="8 <b>A100</b> GPUs", draft="**X** [1] — We train X fast [1].",
               sources=[passage("c", "Closest", "Text.")])
    md = format_answer(a, turn=0)
    assert "the local model replied" in md and "A100" in md and "<b>" not in md
    assert "P 0.83" not in md and "Quotes the check withheld" in md and "does not support" in md
    said = format_answer(a.model_copy(update={"check_reply": "Not stated"}), turn=0)
    assert "replied “Not stated”." in said and "does not support" not in said


def test_removed_sentences_are_listed_with_reasons():
    removed = make_answer().removed
    assert removed_title(removed) == "Verifier removed 1 unsupported sentence"
    md = format_removed(removed)
    assert "~~It is 10x faster.~~" in md and "not in the cited source" in md


def test_errors_are_one_line():
    out = format_error(IndexMissingError("no index at /x: run `rag ingest`\nsecond line"))
    assert "run `rag ingest`" in visible(out) and "second line" not in out and "\n" not in out


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
    streaming = views[2].messages[-1]["content"]
    assert "A tiling technique [1]." in visible(streaming) and "rag-cite" not in streaming
    assert "citations are checked once the answer is complete" in views[2].messages[-1]["content"]
    final = views[-1]
    assert [m["role"] for m in final.messages] == ["user", "assistant", "assistant"]
    assert 'href="#cite-0-1"' in final.messages[1]["content"]
    assert final.messages[2]["metadata"]["title"] == "Verifier removed 1 unsupported sentence"
    assert len(final.turns) == 1 and 'id="cite-0-1"' in final.sources_html
    assert seen == ["How is linear attention made fast?"]


def test_run_turn_shows_sources_then_preview_then_stream_then_the_verified_answer(settings):
    """The generated-answer order of ask_stream: papers found, quoted preview, raw text, verified answer."""
    final = make_answer()
    preview = make_answer().model_copy(update={"mode": "extractive-fallback"})

    def stream(question, **kwargs):
        assert kwargs["answer_mode"] == "llm"
        yield Sources(question=question, passages=final.sources)
        yield Preview(answer=preview)
        yield "Tiling makes [1] it fast"
        yield final

    views = list(run_turn("How is linear attention made fast?", [], [], settings=settings, ask_stream=stream,
                          answer_mode="llm"))
    after_sources, after_preview, streaming, done = views[1], views[2], views[3], views[-1]
    assert "Papers found (3), being read now" in after_sources.sources_html
    assert "Lightning Attention" in after_sources.sources_html and after_sources.turns == []
    assert "Preview: sentences quoted from the abstracts" in after_preview.messages[-1]["content"]
    assert 'href="#cite-0-1"' in after_preview.messages[-1]["content"]
    text = streaming.messages[-1]["content"]
    assert "Preview: sentences quoted" in text and "Tiling makes" in visible(text)
    assert "citations are checked once the answer is complete" in text
    assert "Preview" not in done.messages[1]["content"] and 'id="cite-0-1"' in done.sources_html


def test_answer_notices_are_shown_with_the_answer():
    a = make_answer().model_copy(update={"notices": ["the local model could not answer (x): extractive instead"]})
    html = format_answer(a, 0)
    assert "rag-notice" in html and "could not answer" in visible(html)


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
    assert "2 added" in md and "skipped 1 × no abstract: a.jsonl:3" in visible(md)
    assert "not ingested: x.pdf" in visible(md)
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


# -- corpus text never becomes live markup (issue 10, item 2) -------------------------------------

EVIL_TITLE = "Evil [x](http://127.0.0.1:9/t) ![i](http://127.0.0.1:9/i.png) <img src=x onerror=alert(1)>"
EVIL_TEXT = (
    "We show [9] that [click](http://127.0.0.1:9/link) works, see www.example.org or http://127.0.0.1:9/a "
    "and <script>alert(1)</script> ![t](http://127.0.0.1:9/t.png) $$x$$ me@example.org."
)


def _evil_answer() -> Answer:
    sentence = f"**{EVIL_TITLE}** [1] — {EVIL_TEXT} [1]"
    source = passage("e", EVIL_TITLE, EVIL_TEXT)
    source.metadata["sources"] = ["[f](http://127.0.0.1:9/f).jsonl"]
    return Answer(
        question=f"what about {EVIL_TITLE}? (context: [c](http://127.0.0.1:9/c); papers: {EVIL_TITLE})",
        text=sentence,
        citations=[Citation(number=1, paper_id="e", title=EVIL_TITLE, passage=EVIL_TEXT, score=0.1)],
        sources=[source],
        sentences=[SentenceCheck(text=sentence, citations=[1], supported=True, support=1.0)],
        removed=[SentenceCheck(text=f"{EVIL_TEXT} [1]", citations=[1], supported=False,
                               reasons=["named method [m](http://127.0.0.1:9/m) not in the cited source"])],
        mode="llm:openai:[m](http://127.0.0.1:9/model)",
        confidence=0.9,
    )


def _assert_inert(markup: str, markdown: bool = True) -> None:
    """Only the app's citation links as tags; for Markdown also nothing GFM could link or embed.

    The sources panel is plain HTML (gr.HTML): there a URL in text is just text.
    """
    for tag in re.findall(r"<a\b[^>]*>", markup):
        assert re.fullmatch(r'<a class="rag-cite" href="#cite-\d+-\d+">', tag), tag
    assert not re.search(r"<(img|script|iframe|svg|video|audio|source|link|style)\b", markup, re.IGNORECASE)
    for live in ("http://", "www.", "](", "![", "@example", "$$") if markdown else ():
        assert live not in markup, (live, markup)


def test_every_chat_output_keeps_corpus_text_inert(settings):
    from ui.format import condensed_note, format_streaming

    a = _evil_answer()
    md = format_answer(a, turn=0, asked="and that?")
    _assert_inert(md)
    assert "<strong>Evil [x]" in html.unescape(md), "the answer's own bold title stays bold"
    assert md.count('class="rag-cite"') == 2 and "cite-0-9" not in md, "[1] links, the forged [9] does not"
    for out in (format_removed(a.removed), format_streaming(a.text), condensed_note(a.question),
                format_error(RuntimeError(EVIL_TEXT))):
        _assert_inert(out)
    _assert_inert(render_sources([(EVIL_TITLE, a)]), markdown=False)
    assert EVIL_TITLE in visible(md) and EVIL_TEXT in visible(format_streaming(EVIL_TEXT))
    views = list(run_turn(EVIL_TEXT, [], [], settings=settings, ask_stream=fake_stream(a, [])))
    for view in views:
        for message in view.messages:
            _assert_inert(message["content"])
        _assert_inert(view.sources_html, markdown=False)


def test_corpus_tab_reports_keep_file_names_inert():
    evil = "[f](http://127.0.0.1:9/f)`x`![i](http://127.0.0.1:9/i).jsonl"
    report = IngestReport(files=1, skipped=[SkippedItem(source=evil, line=2, reason=f"bad {evil}")])
    _assert_inert(format_report(report, [f"{evil}: unsupported"]))
    stats = Stats(papers=1, chunks=1, embedding_model="m", embedding_dim=3, store="/s", collection="c",
                  sources={evil: 1})
    md = format_stats(stats)
    _assert_inert(md)
    assert f"<code>{escape_md(evil)}</code>" in md, "a backtick in the name cannot close the code span"
    _assert_inert(format_stats(None, evil))


def test_surrogates_and_controls_never_reach_the_page():
    out = escape_md("caf\ud800 \x1b[2J bell\x07")
    out.encode("utf-8")  # Gradio serialises messages with orjson, which refuses lone surrogates
    assert "\x1b" not in out and "\x07" not in out


# -- uploads (issue 10, item 8) --------------------------------------------------------------------


def _upload(tmp_path, folder: str, name: str, titles: list[str]):
    import json

    path = tmp_path / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"title": t, "abstract": PASSAGE_A}) + "\n" for t in titles))
    return path


def test_two_uploads_with_one_name_are_both_kept(tmp_path):
    from rag.corpus.loader import load_corpus
    from ui.corpus import stage_uploads

    data = tmp_path / "data"
    first = _upload(tmp_path, "gradio-a", "papers.jsonl", ["A1", "A2", "A3"])
    second = _upload(tmp_path, "gradio-b", "papers.jsonl", ["B1", "B2", "B3"])
    staged = stage_uploads([first, second], data)
    assert len(staged) == 2 and len(set(staged)) == 2
    assert [p.name for p in staged] == ["papers.jsonl", "papers.jsonl"], "the name the user knows"
    assert all(p.resolve().is_relative_to((data / "uploads").resolve()) for p in staged)
    papers, _, _, files = load_corpus(staged)
    assert files == 2 and sorted(p.title for p in papers) == ["A1", "A2", "A3", "B1", "B2", "B3"]
    assert {s for p in papers for s in p.sources} == {"papers.jsonl"}

    # a later upload of that name with other content keeps both earlier copies intact
    third = _upload(tmp_path, "gradio-c", "papers.jsonl", ["C1"])
    stage_uploads([third], data)
    papers, _, _, _ = load_corpus([data / "uploads"])
    assert sorted(p.title for p in papers) == ["A1", "A2", "A3", "B1", "B2", "B3", "C1"]
    # an identical re-upload lands on its earlier copy instead of adding a file
    again = _upload(tmp_path, "gradio-d", "papers.jsonl", ["A1", "A2", "A3"])
    assert stage_uploads([again], data) == [staged[0]]
    assert len(list((data / "uploads").rglob("*.jsonl"))) == 3


def test_upload_names_cannot_leave_the_upload_folder(tmp_path):
    from ui.corpus import stage_uploads

    data = tmp_path / "data"
    src = _upload(tmp_path, "in", "ok.jsonl", ["T"])
    for hostile in ("../../escape.jsonl", "/etc/passwd.jsonl", "..\\..\\win.jsonl"):
        path = tmp_path / "in" / "x.jsonl"
        path.write_bytes(src.read_bytes())

        class Named(type(path)):  # a path whose .name is what a hostile client might send
            sent = hostile

            @property
            def name(self):
                return self.sent

        (staged,) = stage_uploads([Named(path)], data)
        assert staged.resolve().is_relative_to((data / "uploads").resolve()), staged
    assert not (tmp_path / "escape.jsonl").exists()


def test_ui_defaults_to_loopback_and_never_shares(tmp_path):
    from conftest import make_settings
    from rag.settings import UISettings
    from ui.app import launch_kwargs

    assert UISettings().host == "127.0.0.1" and is_loopback(UISettings().host)
    assert launch_kwargs(make_settings(tmp_path))["share"] is False


def test_page_config_carries_no_secrets(tmp_path):
    """Everything Gradio sends the browser about the app (its config) is free of keys and the password."""
    import json

    from conftest import make_settings
    from ui.app import build_app

    s = make_settings(tmp_path, openai_api_key="sk-ui-secret-1", ui={"username": "ana", "password": "pw-ui-secret-2"},
                      eval={"judge_api_key": "judge-ui-secret-3"})
    config = json.dumps(build_app(s).get_config_file(), default=str)
    for secret in ("sk-ui-secret-1", "pw-ui-secret-2", "judge-ui-secret-3"):
        assert secret not in config


def test_only_the_title_opening_a_paragraph_is_bold():
    a = make_answer()
    text = "**A **starred** title** [1] — It reaches **12-fold** gains [1]. **Bold** claims [1]."
    a = a.model_copy(update={"text": text, "sentences": [], "removed": []})
    md = format_answer(a, turn=0)
    assert md.count("<strong>") == 1 and "<strong>A &#42;&#42;starred&#42;&#42; title</strong>" in md
    assert "It reaches **12-fold** gains" in visible(md) and "**Bold** claims" in visible(md)


def test_k_from_a_crafted_request_is_a_one_line_chat_error(settings):
    """The slider stops at 20, but the API behind it can be called with any number."""
    from ui.handlers import Handlers

    *_, last = Handlers(settings).respond("linear attention", [], [], 100000, "hybrid", "", "", None)
    shown = last[0][-1]["content"]
    assert 'class="rag-error"' in shown and "use a whole number from 1 to 50" in visible(shown)
