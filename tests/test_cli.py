"""The `rag` command as a user runs it: real processes, real exit codes, one-line errors."""

from __future__ import annotations

import json
import os
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
