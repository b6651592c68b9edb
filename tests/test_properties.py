"""Property tests (hypothesis): no input crashes a parser or the question path.

Every parser gets >= 1,000 generated inputs (enforced: each test counts its examples), built from
the pieces real files are made of (titles, abstracts, author and date lines, JSON values of every
type, CSV quoting, BibTeX braces) mixed with hostile text: control characters, lone surrogates,
markup, huge numbers, NUL bytes. Invariants: no exception; every entry has clean text and a line;
every bad item is a skip with the file name, a line (or None for whole-file reasons) and a reason;
questions come back repaired and bounded or as a one-line QuestionError.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_settings
from rag.corpus.listing import parse_listing
from rag.corpus.loader import read_file
from rag.corpus.records import ParseResult, split_lines
from rag.corpus.structured import parse_bibtex, parse_csv, parse_jsonl
from rag.errors import QuestionError

N = 1000
PROPERTY = settings(
    max_examples=N, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
SOURCE = "gen.txt"
CONTROL = "".join(map(chr, [*range(0, 32), 127, *range(0x80, 0xA0), 0x202E, 0x2028, 0x2029, 0xFEFF]))

# Text that looks like what abstracts hold, plus everything hostile.
hostile_char = st.one_of(
    st.characters(),  # any code point except surrogates
    st.sampled_from(CONTROL),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates
    st.sampled_from("[]()!<>*_`$|#:@{}\\\"',;=-+~^%&"),
)
word = st.one_of(
    st.sampled_from(["attention", "linear", "GPU", "model", "we", "the", "of", "2.59", "FID", "[1]", "[/bold]",
                     "[mask]", "](http://x)", "![t](http://x/t.png)", "<img src=x onerror=1>", "\x1b[2J", "•", "·",
                     "Subscribe", "new", "authors", "Sep", "19,", "2025"]),
    st.text(hostile_char, min_size=1, max_size=12),
)
phrase = st.lists(word, min_size=1, max_size=6).map(" ".join)
abstract = st.lists(word, min_size=20, max_size=28).map(" ".join)
# int() refuses strings of more than 4300 digits; Arabic-Indic digits are \d too
number = st.one_of(st.integers(-10, 10**7), st.just("9" * 5000), st.text("0123456789٠١٢", min_size=1, max_size=30))


def _counted(check: Callable[..., None], strategy: st.SearchStrategy) -> int:
    """Run `check` on N generated inputs; return how many ran (hypothesis may not skip any here)."""
    seen = [0]

    @PROPERTY
    @given(strategy)
    def run(value):
        seen[0] += 1
        check(value)

    run()
    assert seen[0] >= N, f"only {seen[0]} inputs were generated"
    return seen[0]


def _check_result(result: ParseResult, text: str, source: str) -> None:
    """The invariants every parser keeps, whatever the input."""
    n_lines = len(split_lines(text))
    for e in result.entries:
        for value in (e.title, e.abstract, e.authors, e.date_text, e.external_id):
            if value is not None:
                assert isinstance(value, str) and value == value.strip()
                assert not any(c in CONTROL[:-3] for c in value), repr(value)
                value.encode("utf-8")  # no lone surrogates: storable in Chroma, JSON, a terminal
        assert e.title and e.abstract and e.source == source
        assert isinstance(e.line, int) and 1 <= e.line <= n_lines + 1
        assert e.n_authors is None or (isinstance(e.n_authors, int) and e.n_authors >= 0)
        assert e.date is None or (len(e.date) == 10 and e.date[4] == "-")
    for s in result.skipped:
        assert s.source == source and isinstance(s.reason, str) and s.reason
        assert s.line is None or (isinstance(s.line, int) and 1 <= s.line <= n_lines + 1), (s, n_lines)
        s.reason.encode("utf-8")


# -- listing pages -------------------------------------------------------------------------------

listing_line = st.one_of(
    phrase,
    abstract,
    st.just(""),
    st.builds(lambda n: f"• {n} authors", number),
    st.just("·"),
    st.builds(lambda m, d, y: f"{m} {d}" + (f", {y}" if y else ""),
              st.sampled_from("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec Foo".split()),
              number, st.one_of(st.none(), number)),
    st.builds(lambda t: "Subscribe" + t, phrase),
    st.sampled_from(["new", "Subscribe", "Daily Papers", "Get trending papers in your email inbox!"]),
)
listing_text = st.tuples(st.lists(listing_line, max_size=12), st.sampled_from(["\n", "\r\n", "\r", "\u2028"])).map(
    lambda parts: parts[1].join(parts[0])
)


def test_listing_parser_never_crashes():
    def check(text: str) -> None:
        _check_result(parse_listing(text, SOURCE), text, SOURCE)

    print(f"listing: {_counted(check, st.one_of(listing_text, st.text(hostile_char)))} inputs")


# -- JSONL ---------------------------------------------------------------------------------------

json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), phrase)
json_value = st.recursive(
    json_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=4,
)
field_value = st.one_of(phrase, abstract, json_value, st.just(""))
record = st.fixed_dictionaries(
    {},
    optional={
        "title": field_value, "abstract": st.one_of(abstract, field_value), "authors": field_value,
        "date": st.one_of(field_value, st.just("2024-13-45"), st.just("0000-01-01")), "id": field_value,
    },
)
jsonl_line = st.one_of(
    st.tuples(record, st.booleans()).map(lambda r: json.dumps(r[0], ensure_ascii=r[1])),
    json_value.map(json.dumps),
    st.text(hostile_char, max_size=40),
    st.just(""),
    st.just('{"title": "\\ud800", "abstract": "\\udfff broken pairs \\u0000"}'),
)


def test_jsonl_parser_never_crashes_and_accounts_for_every_line():
    def check(lines: list[str]) -> None:
        text = "\n".join(lines)
        result = parse_jsonl(text, "gen.jsonl")
        _check_result(result, text, "gen.jsonl")
        non_blank = sum(1 for line in split_lines(text) if line.strip())
        assert len(result.entries) + len(result.skipped) == non_blank, "every line is an entry or a skip"

    print(f"jsonl: {_counted(check, st.lists(jsonl_line, max_size=6))} inputs")


# -- CSV -----------------------------------------------------------------------------------------

csv_cell = st.one_of(phrase, abstract, st.text(hostile_char, max_size=30), st.just(""), st.just('"'), st.just("\x00"))
csv_header = st.one_of(
    st.just(["title", "abstract", "date"]),
    st.just([" Title ", "ABSTRACT"]),
    st.lists(st.one_of(st.sampled_from(["title", "abstract", "authors", "id", "year", ""]), phrase), max_size=5),
)


def _csv_text(header: list[str], rows: list[list[str]], raw: list[str]) -> str:
    import csv
    import io

    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    return out.getvalue() + "\n".join(raw)


csv_text = st.one_of(
    st.builds(_csv_text, csv_header, st.lists(st.lists(csv_cell, max_size=4), max_size=5),
              st.lists(st.text(hostile_char, max_size=30), max_size=3)),
    st.text(hostile_char),
)


def test_csv_parser_never_crashes():
    def check(text: str) -> None:
        _check_result(parse_csv(text, "gen.csv"), text, "gen.csv")

    print(f"csv: {_counted(check, csv_text)} inputs")


# -- BibTeX --------------------------------------------------------------------------------------

bib_value = st.one_of(phrase, abstract, st.text(hostile_char, max_size=30), st.just("{"), st.just("}"),
                      st.just('"'), st.just("@"), st.just("{{BERT}} Rocks"))
bib_entry = st.builds(
    lambda kind, key, fields, brace: f"@{kind}{{{key},\n"
    + "".join(f"  {k} = {brace[0]}{v}{brace[1]},\n" for k, v in fields)
    + "}\n",
    st.sampled_from(["article", "inproceedings", "misc", "string", "comment", "preamble", "x"]),
    st.one_of(st.text("abcdefgh0123:_-", max_size=10), st.text(hostile_char, max_size=5)),
    st.lists(st.tuples(st.sampled_from(["title", "abstract", "author", "year", "date", "id", "note"]), bib_value),
             max_size=4),
    st.sampled_from([("{", "}"), ('"', '"'), ("", "")]),
)
bib_text = st.one_of(st.lists(st.one_of(bib_entry, st.text(hostile_char, max_size=30)), max_size=3).map("".join),
                     st.text(hostile_char))


def test_bibtex_parser_never_crashes():
    def check(text: str) -> None:
        _check_result(parse_bibtex(text, "gen.bib"), text, "gen.bib")

    print(f"bibtex: {_counted(check, bib_text)} inputs")


# -- whole files as bytes ------------------------------------------------------------------------


def test_read_file_never_crashes_on_any_bytes(tmp_path):
    texts = st.one_of(listing_text, st.lists(jsonl_line, max_size=3).map("\n".join), csv_text, bib_text)
    data = st.one_of(
        st.binary(max_size=400),
        st.tuples(texts, st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"])).map(
            lambda t: t[0].encode(t[1], "surrogatepass" if t[1].startswith("utf") else "replace")
        ),
    )
    suffix = st.sampled_from([".txt", ".jsonl", ".ndjson", ".csv", ".bib", ".pdf", ""])

    def check(case: tuple[bytes, str]) -> None:
        content, ext = case
        path = tmp_path / f"f{ext}"
        path.write_bytes(content)
        result = read_file(path, max_bytes=300)
        assert result.entries or result.skipped
        text = content.decode("utf-8", "replace")
        _check_result(result, text, path.name)

    print(f"read_file: {_counted(check, st.tuples(data, suffix))} inputs")


# -- questions -----------------------------------------------------------------------------------

question_text = st.one_of(
    st.text(hostile_char, max_size=80),
    st.binary(max_size=60).map(lambda b: b.decode("utf-8", "surrogateescape")),  # a shell argument's bytes
    st.lists(word, max_size=12).map(" ".join),
    st.integers(1990, 2100).map(lambda n: "word " * n),  # around the 2000-character limit
)


def test_check_question_repairs_or_refuses_every_input(tmp_path):
    from rag.api import check_question
    from rag.conversation import condense
    from rag.lexical import content_stems
    from rag.text import count_tokens

    s = make_settings(tmp_path)

    def check(question: str) -> None:
        try:
            q = check_question(question, s)
        except QuestionError as exc:
            assert "\n" not in str(exc) and str(exc)
            return
        assert q and q == " ".join(q.split()) and len(q) <= s.answer.max_question_chars
        q.encode("utf-8")
        # everything the question meets before the index is read
        condense(q, None)
        content_stems(q)  # also the BM25 query terms (rag.retrieval)
        count_tokens(q)

    print(f"questions: {_counted(check, question_text)} inputs")


def test_check_question_examples(tmp_path):
    from rag.api import check_k, check_question

    s = make_settings(tmp_path)
    assert check_question("caf\udce9 linear attention", s) == "caf\ufffd linear attention"
    assert check_question("broken \ud800 pair \ud83d\ude00", s) == "broken \ufffd pair \ufffd\ufffd"
    assert check_question("clear \x1b[2J screen", s) == "clear [2J screen"
    with pytest.raises(QuestionError, match="must be text"):
        check_question(b"bytes", s)  # type: ignore[arg-type]
    assert check_k(None) is None and check_k(1) == 1 and check_k(50) == 50
    for bad in (0, 51, -5, 100_000, 2.5, "5", True):
        with pytest.raises(QuestionError, match="from 1 to 50"):
            check_k(bad)


@pytest.mark.slow
def test_question_path_through_retrieval_never_crashes(small_index):
    """The API up to and including real retrieval (BM25 over the real 24-paper index: no model call)."""
    from rag import retrieve

    def check(case: tuple[str, int | None]) -> None:
        question, k = case
        try:
            passages = retrieve(question, k=k, mode="bm25", settings=small_index)
        except QuestionError as exc:
            assert "\n" not in str(exc)
            return
        assert len(passages) <= (k or small_index.retrieval.k)

    ks = st.one_of(st.none(), st.integers(-3, 60))
    print(f"retrieve: {_counted(check, st.tuples(question_text, ks))} inputs")


# -- chat rendering --------------------------------------------------------------------------------


def test_chat_markdown_is_inert_for_any_text():
    import html
    import re

    from rag.models import Answer, Citation, Passage, SentenceCheck
    from rag.sanitize import printable
    from ui.format import escape_md, format_answer, format_removed, format_streaming, render_sources

    specials = re.compile(r"[\\`*_~\[\]()!<>&$|#:@{}^]")

    def check(case: tuple[str, str]) -> None:
        title, text = case
        out = escape_md(text)
        assert html.unescape(out) == printable(text)
        assert not specials.search(re.sub(r"&#\d+;", "", out))
        sentence = f"**{title}** [1] — {text} [1]"
        check_ = SentenceCheck(text=sentence, citations=[1], supported=True, support=1.0)
        answer = Answer(
            question=text or "q", text=sentence, sentences=[check_], removed=[check_],
            citations=[Citation(number=1, paper_id="p", title=title, passage=text, score=1.0)],
            sources=[Passage(paper_id="p", title=title, text=text, score=1.0)],
        )
        for md in (format_answer(answer, 0, asked="x"), format_removed(answer.removed), format_streaming(text),
                   render_sources([(text, answer)])):
            md.encode("utf-8")
            for tag in re.findall(r"<(?:a|img|script)\b[^>]*>", md):
                assert tag.startswith('<a class="rag-cite" href="#cite-0-'), tag

    print(f"chat markdown: {_counted(check, st.tuples(st.text(hostile_char, max_size=40), question_text))} inputs")
