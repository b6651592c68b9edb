"""Corpus parsing: both listing layouts, structured formats, deduplication, bad input."""

from __future__ import annotations

import json

import pytest

from rag.corpus.listing import parse_date, parse_listing
from rag.corpus.loader import BUNDLED_DIR, deduplicate, load_corpus, read_file
from rag.corpus.records import normalize_title, paper_id_for
from rag.corpus.structured import parse_bibtex, parse_csv, parse_jsonl
from rag.errors import CorpusError

ABSTRACT = (
    "We study a problem that matters a great deal in practice and propose a method that solves it "
    "with fewer parameters than prior work, reaching 91.2% accuracy on three benchmarks."
)


def test_bundled_corpus_gives_371_unique_papers_from_413_entries():
    papers, entries, skipped, files = load_corpus()
    assert files == 5
    assert len(entries) == 413
    assert len(papers) == 371
    assert skipped == []
    assert len({p.paper_id for p in papers}) == 371
    # every paper keeps every file it appeared in
    assert sum(len(p.sources) for p in papers) == 413


def test_page_chrome_never_becomes_a_paper():
    papers, _, _, _ = load_corpus()
    titles = {p.title for p in papers}
    for chrome in ("new", "Subscribe", "Daily Papers", "byAK and the research community", "Jan 20"):
        assert chrome not in titles
    assert not any(t.startswith(("Subscribe", "Get trending")) for t in titles)
    # layout (b): the first title was glued after "Subscribe"
    assert "Mispronunciation detection using self-supervised speech representations" in titles


def test_layout_a_keeps_authors_and_dates():
    papers, _, _, _ = load_corpus([BUNDLED_DIR / "000_8b4919c9a7369770.txt"])
    lzn = next(p for p in papers if p.title.startswith("Latent Zoning Network"))
    assert lzn.n_authors == 6
    assert lzn.date == "2025-09-19"  # "Sep 19, 2025 5": the trailing 5 is an upvote count
    assert lzn.sources == ["000_8b4919c9a7369770.txt"]


def test_dates_without_year_are_kept_as_written():
    assert parse_date("Aug 25") == (None, "Aug 25")
    assert parse_date("Mar 2 2") == (None, "Mar 2")
    assert parse_date("Sep 19, 2025 5") == ("2025-09-19", "Sep 19, 2025")
    assert parse_date("Feb 30, 2024") == (None, "Feb 30, 2024")
    assert parse_date("not a date") == (None, None)


def test_layout_b_alternating_lines():
    text = "Get trending papers in your email inbox!\nSubscribeFirst Title\n" + ABSTRACT + "\nSecond Title\n" + ABSTRACT
    result = parse_listing(text, "b.txt")
    assert [e.title for e in result.entries] == ["First Title", "Second Title"]
    assert result.entries[1].line == 4


def test_listing_entry_without_abstract_is_a_counted_skip():
    text = "Title One\n\nTitle Two\n\n" + ABSTRACT + "\n\nDangling Title\n"
    result = parse_listing(text, "x.txt")
    assert [e.title for e in result.entries] == ["Title Two"]
    assert [(s.line, s.reason) for s in result.skipped] == [
        (1, "entry without an abstract"),
        (7, "entry without an abstract"),
    ]


def test_dedup_merges_sources_and_normalises_titles():
    a = parse_listing("A Great Paper: Part 1\n" + ABSTRACT, "one.txt").entries
    b = parse_listing("a great paper -- part 1\n" + ABSTRACT + " More.", "two.txt").entries
    papers = deduplicate(a + b)
    assert len(papers) == 1
    assert papers[0].sources == ["one.txt", "two.txt"]
    assert papers[0].abstract.endswith("More.")  # the longer abstract wins
    assert papers[0].paper_id == paper_id_for("A GREAT PAPER: part 1")
    assert normalize_title("  A  Great\tPaper ") == "a great paper"


def test_jsonl_arxiv_style_and_malformed_lines():
    lines = [
        json.dumps({"id": "2401.1", "title": "T1", "abstract": ABSTRACT, "authors": "A. One and B. Two",
                    "update_date": "2024-01-05"}),
        "{not json",
        json.dumps({"title": "T2", "abstract": ""}),
        json.dumps(["a list"]),
        "",
    ]
    result = parse_jsonl("\n".join(lines), "a.jsonl")
    assert len(result.entries) == 1
    e = result.entries[0]
    assert (e.external_id, e.n_authors, e.date) == ("2401.1", 2, "2024-01-05")
    assert [(s.line, s.reason.split(" (")[0]) for s in result.skipped] == [
        (2, "malformed JSON"),
        (3, "entry without an abstract"),
        (4, "JSON line is not an object"),
    ]


def test_csv_needs_title_and_abstract_columns():
    ok = parse_csv(f'title,abstract,date\n"T, with comma","{ABSTRACT}",2023\n', "a.csv")
    assert ok.entries[0].title == "T, with comma" and ok.entries[0].date == "2023-01-01"
    bad = parse_csv("name,text\nx,y\n", "b.csv")
    assert not bad.entries and "lacks 'title' and 'abstract'" in bad.skipped[0].reason


def test_bibtex_with_and_without_abstract():
    bib = (
        "@article{key1, title={{BERT} Rocks}, abstract={" + ABSTRACT + "}, author={A and B}, year={2019}}\n"
        "@article{key2, title={No Abstract Here}, year={2020}}\n"
    )
    result = parse_bibtex(bib, "refs.bib")
    assert [e.title for e in result.entries] == ["BERT Rocks"]
    assert result.entries[0].date == "2019-01-01"
    assert result.skipped[0].reason == "entry without an abstract"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("bin.txt", b"\x00\x01\x02abc", "binary file"),
        ("latin.txt", "Title\n\ncaf\xe9 ".encode("latin-1") * 30, "not UTF-8 text"),
        ("notes.pdf", b"%PDF-1.4", "unsupported file type '.pdf'"),
        ("chrome.txt", b"new\n\nSubscribe\n", "no papers found"),
    ],
)
def test_bad_files_are_skipped_with_a_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    result = read_file(path, max_bytes=10_000)
    assert not result.entries
    assert result.skipped[0].reason == reason
    assert result.skipped[0].source == name


def test_oversized_file_is_skipped(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text("x" * 2000)
    assert read_file(path, max_bytes=1000).skipped[0].reason == "file larger than 1000 bytes"


def test_missing_path_is_a_one_line_error(tmp_path):
    with pytest.raises(CorpusError, match="no such file or folder"):
        load_corpus([tmp_path / "nope.txt"])


def test_folders_are_walked_for_supported_files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.jsonl").write_text(json.dumps({"title": "T", "abstract": ABSTRACT}))
    (tmp_path / "readme.md").write_text("ignored")
    papers, _, skipped, files = load_corpus([tmp_path])
    assert files == 1 and [p.title for p in papers] == ["T"] and not skipped
