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


# -- hostile folders and file names (issue 10, item 5) ---------------------------------------------


def _jsonl(path, title: str) -> None:
    path.write_text(json.dumps({"title": title, "abstract": ABSTRACT}) + "\n")


def test_symlink_loop_in_a_folder_is_a_counted_skip(tmp_path):
    _jsonl(tmp_path / "a.jsonl", "Paper A")
    (tmp_path / "sub").mkdir()
    _jsonl(tmp_path / "sub" / "b.jsonl", "Paper B")
    (tmp_path / "sub" / "loop").symlink_to(tmp_path)  # sub/loop -> the top folder: a cycle
    (tmp_path / "self.jsonl").symlink_to(tmp_path / "self.jsonl")  # a link to itself (ELOOP)
    papers, _, skipped, _ = load_corpus([tmp_path])
    assert sorted(p.title for p in papers) == ["Paper A", "Paper B"]
    reasons = {(s.source, s.reason) for s in skipped}
    assert ("loop", "folder already read (symbolic link loop)") in reasons
    assert ("self.jsonl", "symbolic link loop") in reasons


def test_folder_named_like_a_data_file_is_walked_not_read(tmp_path):
    (tmp_path / "sub.jsonl").mkdir()
    _jsonl(tmp_path / "sub.jsonl" / "inner.jsonl", "Inner Paper")
    _jsonl(tmp_path / "top.jsonl", "Top Paper")
    papers, _, skipped, files = load_corpus([tmp_path])
    assert sorted(p.title for p in papers) == ["Inner Paper", "Top Paper"] and not skipped
    assert read_file(tmp_path / "sub.jsonl", 10_000).skipped[0].reason == "is a folder, not a file"


def test_file_name_that_is_not_utf8_is_a_counted_skip(tmp_path):
    import os

    _jsonl(tmp_path / "good.jsonl", "Good Paper")
    bad = os.path.join(os.fsencode(tmp_path), b"caf\xe9.jsonl")
    with open(bad, "w") as f:
        f.write(json.dumps({"title": "Hidden", "abstract": ABSTRACT}))
    papers, _, skipped, _ = load_corpus([tmp_path])
    assert [p.title for p in papers] == ["Good Paper"]
    reason = "file name is not valid UTF-8 (rename the file)"
    assert [(s.source, s.reason) for s in skipped] == [("caf\ufffd.jsonl", reason)]
    skipped[0].source.encode("utf-8")  # printable and storable


def test_unreadable_file_is_a_counted_skip(tmp_path_factory):
    """Tests run as root, whom file permissions do not stop. The check runs in a real child process
    whose capability bounding set lacks CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH (`setpriv`), so the kernel
    refuses the read exactly as it would for a normal user; as a non-root user chmod 000 alone does it.
    """
    import os
    import shutil
    import subprocess
    import sys

    from conftest import ROOT

    folder = tmp_path_factory.mktemp("perm")
    _jsonl(folder / "ok.jsonl", "Readable Paper")
    _jsonl(folder / "secret.jsonl", "Secret Paper")
    (folder / "secret.jsonl").chmod(0)
    (folder / "locked").mkdir()
    _jsonl(folder / "locked" / "inner.jsonl", "Locked Paper")
    (folder / "locked").chmod(0)
    code = (
        "import json, sys; from rag.corpus.loader import load_corpus; "
        "p, _, s, _ = load_corpus([sys.argv[1]]); "
        "print(json.dumps([[x.title for x in p], [[k.source, k.reason] for k in s]]))"
    )
    cmd = [sys.executable, "-c", code, str(folder)]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot drop the capability that bypasses permissions")
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *cmd]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    finally:
        (folder / "locked").chmod(0o755)
    assert r.returncode == 0, r.stderr
    titles, skips = json.loads(r.stdout)
    assert titles == ["Readable Paper"]
    reason = "permission denied (check the file's permissions)"
    assert sorted(skips) == [["locked", reason], ["secret.jsonl", reason]]


def test_broken_symlink_named_directly_is_a_skip(tmp_path):
    (tmp_path / "gone.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    _, _, skipped, _ = load_corpus([tmp_path / "gone.jsonl"])
    assert skipped[0].reason == "broken symbolic link or symbolic link loop"


def test_fifo_is_not_read(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.jsonl")  # reading it would block forever
    assert read_file(tmp_path / "pipe.jsonl", 10_000).skipped[0].reason == "not a regular file"


# -- field types (issue 10, item 9) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"title": ["list", "title"], "abstract": {"x": 1}}, "'title' is not text (a list)"),
        ({"title": 12345, "abstract": ABSTRACT}, "'title' is not text (a number)"),
        ({"title": "Fine", "abstract": {"x": 1}}, "'abstract' is not text (an object)"),
        ({"title": True, "abstract": ABSTRACT}, "'title' is not text (true/false)"),
        ({"title": "Fine", "abstract": 3.5}, "'abstract' is not text (a number)"),
        ({"title": None, "abstract": ABSTRACT}, "record without a title"),
    ],
)
def test_non_text_title_or_abstract_is_a_counted_skip(record, reason):
    result = parse_jsonl("\n" + json.dumps(record) + "\n", "odd.jsonl")
    assert not result.entries
    assert [(s.source, s.line, s.reason) for s in result.skipped] == [("odd.jsonl", 2, reason)]


def test_optional_fields_of_the_wrong_type_are_ignored_not_stringified():
    record = {"title": "T", "abstract": ABSTRACT, "authors": {"a": 1}, "id": ["x"], "date": {"y": 2024}}
    e = parse_jsonl(json.dumps(record), "a.jsonl").entries[0]
    assert (e.authors, e.n_authors, e.external_id, e.date, e.date_text) == (None, None, None, None, None)
    e = parse_jsonl(json.dumps({**record, "authors": ["A. One", {"x": 1}, "B. Two"], "id": 7, "year": 2021}),
                    "a.jsonl").entries[0]
    assert (e.authors, e.n_authors, e.external_id, e.date) == ("A. One, B. Two", 2, "7", "2021-01-01")


def test_impossible_dates_are_kept_as_written_only():
    e = parse_jsonl(json.dumps({"title": "T", "abstract": ABSTRACT, "date": "2024-13-45"}), "a.jsonl").entries[0]
    assert (e.date, e.date_text) == (None, "2024-13-45")


def test_json_line_with_a_raw_line_separator_is_one_record():
    # U+2028 is legal inside a JSON string; str.splitlines() used to cut the record in two
    line = json.dumps({"title": "T\u2028wo", "abstract": ABSTRACT}, ensure_ascii=False)
    result = parse_jsonl(line + "\n" + json.dumps({"title": "Next", "abstract": ABSTRACT}), "a.jsonl")
    assert [e.title for e in result.entries] == ["T wo", "Next"] and [e.line for e in result.entries] == [1, 2]


def test_control_characters_and_surrogates_never_reach_the_index():
    record = {"title": "Evil \x1b[2J\x1b]8;;http://x\x07Title\ud800", "abstract": ABSTRACT + "\x1b[31m red \x9b"}
    e = parse_jsonl(json.dumps(record), "a.jsonl").entries[0]
    assert e.title == "Evil [2J]8;;http://xTitle\ufffd"
    assert "\x1b" not in e.abstract and "\x9b" not in e.abstract


def test_csv_bad_row_loses_only_that_row():
    big = "x" * 200_000  # over the csv module's field limit
    text = f'title,abstract\nFirst,"{ABSTRACT}"\nHuge,"{big}"\nThird,"{ABSTRACT}"\n'
    result = parse_csv(text, "a.csv")
    assert [e.title for e in result.entries] == ["First", "Third"]
    assert [s.reason.split(" (")[0] for s in result.skipped] == ["malformed CSV row"]
