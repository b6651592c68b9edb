"""The `rag` command as a user runs it: real processes, real exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_small_corpus

RAG = [sys.executable, "-m", "rag.cli"]


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run(RAG + args, capture_output=True, text=True, env=full_env, timeout=600)


def test_errors_are_one_line_with_exit_code_2(tmp_path):
    r = run(["ask", "what is attention?"], tmp_path / "none")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert r.stderr.startswith("error: no index at") and "rag ingest" in r.stderr
    assert "Traceback" not in r.stderr

    r = run(["ingest", str(tmp_path / "missing.txt")], tmp_path / "none")
    assert r.returncode == 2 and "no such file or folder" in r.stderr

    r = run(["ask", "  "], tmp_path / "none")
    assert r.returncode == 2 and "question is empty" in r.stderr


def test_bad_setting_is_a_one_line_error(tmp_path):
    r = run(["stats"], tmp_path, RAG_RETRIEVAL__K="lots")
    assert r.returncode == 2
    assert "RAG_RETRIEVAL__K" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_ingest_ask_stats_round_trip(tmp_path):
    corpus = write_small_corpus(tmp_path / "c", n=5)
    data = tmp_path / "data"
    r = run(["ingest", str(corpus), "--json"], data)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["added"] == 5

    r = run(["ingest", str(corpus)], data)
    assert r.returncode == 0 and "0 added" in r.stdout and "5 unchanged" in r.stdout

    r = run(["stats", "--json"], data)
    st = json.loads(r.stdout)
    assert st["papers"] == 5 and st["embedding_model"] == "local:all-MiniLM-L6-v2"

    title = json.loads(corpus.read_text().splitlines()[0])["title"]
    r = run(["ask", title, "--json", "--k", "3"], data)
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert len(answer["sources"]) == 3 and answer["sources"][0]["title"] == title

    r = run(["ask", title, "--date-from", "not-a-date"], data)
    assert r.returncode == 2 and "YYYY-MM-DD" in r.stderr


# -- hostile input at the command line (issue 10, items 5, 6, 7, 10, 11) ---------------------------

ANSI_SGR = re.compile(r"\x1b\[[0-9;]*m")  # Rich's own styling when the output is a terminal
# Rich's progress spinner on stderr: hide/show the cursor, move up a line, erase it
SPINNER = re.compile(r"\x1b\[\?25[lh]|\x1b\[1A|\x1b\[2K")


def test_k_outside_its_range_is_refused_with_the_range(monkeypatch, tmp_path):
    invoke = _terminal_cli(monkeypatch, tmp_path / "none")
    for k in ("100000", "-5", "0"):
        code, output = invoke("ask", "linear attention", "--k", k)
        assert code == 2, output
        assert output == f"error: k (papers to retrieve) is {k}: use a whole number from 1 to 50\n"


def test_empty_data_dir_means_the_default_not_the_current_directory(tmp_path):
    """A real process: the variable is read from the environment at start-up."""
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    cwd.mkdir()
    env = {**os.environ, "RAG_DATA_DIR": "", "HOME": str(home), "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([*RAG, "stats"], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert str(home / ".local" / "share" / "rag-abstracts") in r.stderr
    assert not (cwd / "chroma").exists(), "an empty RAG_DATA_DIR created a store in the current directory"


def test_error_lines_carry_no_escape_sequences(monkeypatch, tmp_path):
    invoke = _terminal_cli(monkeypatch, tmp_path / "none")
    code, output = invoke("ingest", str(tmp_path / "x\x1b[2J\x1b]8;;http://e\x07y\nz.txt"))
    assert code == 2 and "no such file or folder" in output
    assert "\x1b" not in ANSI_SGR.sub("", output) and "\x07" not in output and output.count("\n") == 1


HOSTILE_TITLES = {
    "bold": "Closing tags [/bold] crash nothing in attention models",
    "mask": "Masked [mask] token prediction for linear attention",
    "link": "Hyperlinked [link=http://127.0.0.1:9/x]linear attention[/link] survey",
    "emoji": "Emoji codes :warning: stay text in linear attention",
}
HOSTILE_ABSTRACT = (
    "We study linear attention for long sequences and show that a tiled kernel makes it fast on GPUs, "
    "reaching twice the throughput of softmax attention at equal quality. \x1b[2J\x1b[31mRed text\x1b[0m here."
)


@pytest.fixture(scope="module")
def hostile_cli_index(tmp_path_factory):
    """A real index built by `rag ingest` (a real process) from a folder full of traps, and its result."""
    base = tmp_path_factory.mktemp("hostile-cli")
    folder = base / "corpus"
    write_small_corpus(folder, n=6)
    with (folder / "hostile.jsonl").open("w") as f:
        for title in HOSTILE_TITLES.values():
            f.write(json.dumps({"title": title, "abstract": HOSTILE_ABSTRACT}) + "\n")
        f.write(json.dumps({"title": ["list", "title"], "abstract": {"x": 1}}) + "\n")
        f.write(json.dumps({"title": 12345, "abstract": HOSTILE_ABSTRACT}) + "\n")
    (folder / "sub.jsonl").mkdir()  # a folder named like a data file
    (folder / "loop").symlink_to(folder)  # a symlink loop
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.jsonl"), "w") as f:  # a non-UTF-8 file name
        f.write(json.dumps({"title": "Unnamed", "abstract": HOSTILE_ABSTRACT}) + "\n")
    data = base / "data"
    r = run(["ingest", str(folder), "--json"], data)
    return data, r


@pytest.mark.slow
def test_ingest_of_a_hostile_folder_counts_skips_and_keeps_the_rest(hostile_cli_index):
    _, r = hostile_cli_index
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["added"] == 6 + len(HOSTILE_TITLES)
    skips = {(s["source"], s["reason"]) for s in report["skipped"]}
    assert ("loop", "folder already read (symbolic link loop)") in skips
    assert ("caf\ufffd.jsonl", "file name is not valid UTF-8 (rename the file)") in skips
    assert ("hostile.jsonl", "'title' is not text (a list)") in skips
    assert ("hostile.jsonl", "'title' is not text (a number)") in skips
    assert {s["line"] for s in report["skipped"] if s["source"] == "hostile.jsonl"} == {5, 6}


def _terminal_cli(monkeypatch, data_dir):
    """Invoke the real CLI in-process with its consoles forced to act as a 400-column colour terminal."""
    import io

    from rich.console import Console
    from typer.testing import CliRunner

    import rag.cli
    from rag.settings import get_settings

    monkeypatch.setenv("RAG_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    buf = io.StringIO()
    monkeypatch.setattr(rag.cli, "out", Console(file=buf, force_terminal=True, width=400, color_system="standard"))
    monkeypatch.setattr(rag.cli, "err", Console(file=buf, force_terminal=True, width=400, color_system="standard"))

    def invoke(*args: str) -> tuple[int, str]:
        buf.seek(0)
        buf.truncate()
        result = CliRunner().invoke(rag.cli.app, list(args))
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, buf.getvalue()

    return invoke


def _assert_literal(output: str, expected: str) -> None:
    shown = SPINNER.sub("", ANSI_SGR.sub("", output))  # Rich's own colours and spinner are fine
    assert "\x1b" not in shown, repr(output[:400])  # no corpus escape, no OSC 8 hyperlink
    assert expected in shown, (expected, shown)


@pytest.mark.slow
def test_ask_and_stats_print_corpus_markup_literally(hostile_cli_index, monkeypatch):
    data, _ = hostile_cli_index
    invoke = _terminal_cli(monkeypatch, data)
    for key, title in HOSTILE_TITLES.items():  # the title is cited: printed after "[1]"
        code, output = invoke("ask", title, "--k", "3")
        assert code == 0, (key, output)
        _assert_literal(output, title)
    # an off-topic question abstains and lists every retrieved title under "Closest papers"
    code, output = invoke("ask", "Which country won the 2018 FIFA World Cup?", "--k", "50")
    assert code == 0 and "Closest papers" in output
    for title in HOSTILE_TITLES.values():
        _assert_literal(output, title)
    code, output = invoke("stats")
    assert code == 0
    _assert_literal(output, "hostile.jsonl")


def test_answers_from_an_older_index_cannot_drive_the_terminal(monkeypatch, tmp_path):
    """Ingest now strips control characters, so only an index written by an older version holds them;
    the answerer is replaced by one returning such an Answer (no such index can be built any more)."""
    import rag
    from rag.models import Answer, Citation, Passage

    evil = "Evil \x1b[2J\x1b]8;;http://127.0.0.1:9/x\x07link\x1b]8;;\x07 [/bold] [mask] \x9b31m\u202eedoc"
    answer = Answer(
        question="q", text=f"{evil} [1].", mode="extractive",
        citations=[Citation(number=1, paper_id="p", title=evil, passage=evil, score=1.0)],
        sources=[Passage(paper_id="p", title=evil, text=evil, score=1.0)],
    )
    monkeypatch.setattr(rag, "ask_stream", lambda *a, **k: iter([answer]))
    invoke = _terminal_cli(monkeypatch, tmp_path)
    code, output = invoke("ask", "q")
    assert code == 0
    _assert_literal(output, "Evil [2J]8;;http://127.0.0.1:9/xlink]8;; [/bold] [mask] 31medoc")
    assert "\x9b" not in output and "\u202e" not in output
    abstained = answer.model_copy(update={"citations": [], "abstained": True})
    monkeypatch.setattr(rag, "ask_stream", lambda *a, **k: iter([abstained]))
    code, output = invoke("ask", "q")
    assert code == 0
    _assert_literal(output, "Closest papers")


@pytest.mark.slow
def test_question_with_invalid_utf8_bytes_is_answered(hostile_cli_index):
    data, _ = hostile_cli_index
    env = {**os.environ, "RAG_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    question = b"caf\xe9 linear attention"  # as a latin-1 terminal sends it
    r = subprocess.run([*RAG, "ask", question, "--json"], capture_output=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    answer = json.loads(r.stdout)
    assert answer["question"] == "caf\ufffd linear attention" and answer["sources"]


SECRETS = {
    "OPENAI_API_KEY": "sk-cli-secret-0001",
    "RAG_UI__PASSWORD": "ui-cli-secret-0002",
    "RAG_UI__USERNAME": "ana",
    "RAG_EVAL__JUDGE_API_KEY": "judge-cli-secret-0003",
}


def _no_secrets(*texts: str) -> None:
    for text in texts:
        for name, value in SECRETS.items():
            if name != "RAG_UI__USERNAME":
                assert value not in text, f"{name} leaked"


def test_secrets_never_printed_by_the_cli(monkeypatch, tmp_path):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    invoke = _terminal_cli(monkeypatch, tmp_path / "none")
    with socket.socket() as taken:  # `rag ui` on a port in use fails after reading the login
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = str(taken.getsockname()[1])
        for args in (["stats"], ["stats", "--json"], ["ask", "q", "--json"], ["ingest", str(tmp_path / "missing")],
                     ["ask", "q", "--k", "0"], ["ui", "--host", "127.0.0.1", "--port", busy]):
            code, output = invoke(*args)
            assert code == 2, (args, output)
            _no_secrets(output)


@pytest.mark.slow
def test_secrets_never_printed_with_an_index(hostile_cli_index):
    from conftest import free_port

    data, _ = hostile_cli_index
    dead = f"http://127.0.0.1:{free_port()}/v1"
    r = run(["stats", "--json"], data, **SECRETS)
    assert r.returncode == 0
    _no_secrets(r.stdout, r.stderr)
    # an LLM answer against a dead endpoint: the error names the URL, never the key
    r = run(["ask", "linear attention on GPUs", "--answer-mode", "llm", "--json"], data,
            OPENAI_BASE_URL=dead, RAG_LLM__TIMEOUT="3", **SECRETS)
    assert r.returncode in (0, 2), r.stderr  # 0 once the answerer falls back to extractive evidence
    _no_secrets(r.stdout, r.stderr)


def test_why_withheld_names_the_check_or_quotes_the_models_reply_inertly():
    from rag.cli import why_withheld
    from rag.models import Answer

    base = Answer(question="q", text="withheld", abstained=True)
    assert why_withheld(base) is None
    assert why_withheld(base.model_copy(update={"abstained": False, "check": 0.1})) is None
    assert "P(they answer) 0.21" in why_withheld(base.model_copy(update={"check": 0.21})).plain
    said = why_withheld(base.model_copy(update={"check": 0.8, "check_reply": "Not stated"})).plain
    assert said.endswith("Not stated; --json shows the quotes")
    odd = why_withheld(base.model_copy(update={"check": 0.8, "check_reply": "[bold]256[/bold]\x1b[31m"})).plain
    assert "[bold]256[/bold]" in odd and "\x1b" not in odd and "not supported there" in odd
