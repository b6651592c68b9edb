"""Readers and one writer on one data directory: threads and real processes, no torn reads, no stale reads.

Issue 10 bug 3 was: a long-running process never saw, through dense or hybrid retrieval, papers that
another process ingested (Chroma's embedded client caches its HNSW index per process). Readers now
answer from the published view, which they re-open when its version changes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, make_settings, write_small_corpus
from rag import ask, ingest, retrieve, stats

pytestmark = pytest.mark.slow  # real MiniLM, real Chroma, real processes

MARK = "We revisit this problem with a new method."

READER = r"""
import json, sys, time
from pathlib import Path
from rag import retrieve
from rag.settings import Settings
data, cases_path, done_flag, out = sys.argv[1:5]
s = Settings(_env_file=None, data_dir=data)
cases = json.loads(Path(cases_path).read_text())
errors, seen, n = [], {}, 0
deadline = time.time() + 300
while time.time() < deadline:
    finished = Path(done_flag).exists()
    for c in cases:
        mode = ("dense", "hybrid", "bm25")[(n // len(cases)) % 3]
        n += 1
        try:
            top = retrieve(c["title"], k=3, mode=mode, settings=s)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        hit = [p for p in top if p.paper_id == c["paper_id"]]
        if not hit:
            errors.append(f"{c['paper_id']} missing ({mode})")
        elif hit[0].text not in (c["old"], c["new"]):
            errors.append(f"{c['paper_id']} torn text ({mode})")
        elif finished:
            seen.setdefault(c["paper_id"], set()).add((mode, hit[0].text == c["new"]))
    if finished and all({("dense", True), ("hybrid", True)} <= seen.get(c["paper_id"], set()) for c in cases):
        break
Path(out).write_text(json.dumps({"errors": errors[:20], "reads": n,
    "fresh": all({("dense", True), ("hybrid", True)} <= seen.get(c["paper_id"], set()) for c in cases)}))
"""


def _env(data: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), RAG_DATA_DIR=str(data), RAG_INDEX__WRITE_BATCH_SIZE="8")
    env.pop("RAG_TEST_KILL_AT", None)
    return env


def test_long_running_process_sees_papers_another_process_ingested(tmp_path):
    """The bug-3 scenario: this process keeps answering while `rag ingest new.jsonl` runs elsewhere."""
    s = make_settings(tmp_path / "data")
    recs = [json.loads(x) for x in write_small_corpus(tmp_path / "c", n=12).read_text().splitlines()]
    first, new = tmp_path / "first.jsonl", tmp_path / "new.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in recs[:8]))
    new.write_text("".join(json.dumps(r) + "\n" for r in recs[8:]))
    ingest([first], settings=s)
    assert retrieve(recs[0]["title"], k=1, mode="dense", settings=s)[0].title == recs[0]["title"]  # warm caches

    proc = subprocess.run(
        [sys.executable, "-c", "from rag.cli import main; main()", "ingest", str(new)],
        env=_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-800:]
    assert stats(s).papers == 12
    for mode in ("dense", "hybrid", "bm25"):
        assert retrieve(recs[10]["title"], k=1, mode=mode, settings=s)[0].title == recs[10]["title"], mode
    answer = ask(recs[9]["title"], settings=s)
    assert not answer.abstained and answer.sources[0].title == recs[9]["title"]


def test_readers_in_threads_and_processes_during_an_update(tmp_path):
    """2 threads here and 2 reader processes query while another process replaces 16 of 24 abstracts."""
    data = tmp_path / "data"
    s = make_settings(data)
    recs = [json.loads(x) for x in write_small_corpus(tmp_path / "c", n=24).read_text().splitlines()]
    old_file = tmp_path / "old.jsonl"
    old_file.write_text("".join(json.dumps(r) + "\n" for r in recs))
    ingest([old_file], settings=s)
    from rag.corpus.records import paper_id_for

    changed = [dict(r, abstract=f"{MARK} {r['abstract']}") if i < 16 else r for i, r in enumerate(recs)]
    new_file = tmp_path / "new.jsonl"
    new_file.write_text("".join(json.dumps(r) + "\n" for r in changed))
    cases = [
        {"paper_id": paper_id_for(r["title"]), "title": r["title"], "old": r["abstract"], "new": c["abstract"]}
        for r, c in list(zip(recs, changed))[:16:3]
    ]
    cases_path = tmp_path / "cases.json"
    cases_path.write_text(json.dumps(cases))
    done_flag = tmp_path / "ingest-done"

    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(data), str(cases_path), str(done_flag), str(tmp_path / f"r{i}.json")],
            env=_env(data),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    errors: list[str] = []
    reads = [0]
    stop = threading.Event()

    def reader_thread(n: int) -> None:
        while not stop.is_set():
            c = cases[n % len(cases)]
            n += 1
            try:
                top = retrieve(c["title"], k=3, mode=("dense", "hybrid")[n % 2], settings=s)
            except Exception as exc:  # any failure is a finding; record it for the assertion below
                errors.append(repr(exc))
                continue
            reads[0] += 1
            hit = [p for p in top if p.paper_id == c["paper_id"]]
            if not hit or hit[0].text not in (c["old"], c["new"]):
                errors.append(f"{c['paper_id']}: {'missing' if not hit else 'torn'}")

    threads = [threading.Thread(target=reader_thread, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    time.sleep(2)
    writer = subprocess.run(
        [sys.executable, "-c", "from rag.cli import main; main()", "ingest", str(new_file)],
        env=_env(data),
        capture_output=True,
        text=True,
        timeout=600,
    )
    done_flag.write_text("1")
    time.sleep(1)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    for p in readers:
        p.wait(timeout=400)
    assert writer.returncode == 0, writer.stderr[-800:]
    assert not errors, errors[:5]
    assert reads[0] > 20
    for i, p in enumerate(readers):
        assert p.returncode == 0, p.stderr.read()[-800:]
        result = json.loads((tmp_path / f"r{i}.json").read_text())
        assert not result["errors"], result["errors"][:5]
        assert result["fresh"], "a reader process kept seeing the old version after the ingest"
    for c in cases:  # and this process sees the new version too, densely
        assert retrieve(c["title"], k=1, mode="dense", settings=s)[0].text == c["new"]
