"""Crash-safe ingest: `rag ingest` killed by SIGKILL at every stage, then repaired by the next ingest.

A real subprocess runs the real CLI with RAG_TEST_KILL_AT=<stage>:<n> (rag/store/faults.py), which
SIGKILLs it at that moment: after parsing, after an embedding batch, after a Chroma upsert, before
and after the view is made current, after a delete batch, before the journal is cleared. Checks:
while the store is left crashed, readers see either the old or the new version of every paper,
complete; after the next ingest, the published papers, their chunks, and the Chroma records are
exactly those of a clean ingest (no chunk lost, none duplicated, no orphan).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, make_settings, write_small_corpus
from rag import ingest, retrieve
from rag.index import Index
from rag.store import view as views

pytestmark = pytest.mark.slow  # real MiniLM, real Chroma, real subprocesses

BATCH = 4  # chunks per embedding/write step, so a small corpus makes several steps


def _records(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _settings(data: Path):
    return make_settings(data, index={"write_batch_size": BATCH})


def run_ingest(data: Path, corpus: Path, kill_at: str | None = None, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), RAG_DATA_DIR=str(data), RAG_INDEX__WRITE_BATCH_SIZE=str(BATCH))
    env.pop("RAG_TEST_KILL_AT", None)
    if kill_at:
        env["RAG_TEST_KILL_AT"] = kill_at
    return subprocess.run(
        [sys.executable, "-c", "from rag.cli import main; main()", "ingest", str(corpus), "--json", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def snapshot(data: Path) -> dict:
    """What a clean ingest determines: published papers and chunks, and every record in Chroma."""
    s = _settings(data)
    view = views.current(s)
    papers = {view.papers["paper_id"][i]: view.papers["digest"][i] for i in range(view.n_papers)}
    chunks = sorted(view.chunk_ids)
    for i in range(view.n_papers):  # every published chunk belongs to its paper, none missing
        rng = view.paper_chunk_range(i)
        assert [view.chunk_ids[j].rsplit("-", 1)[1] for j in rng] == [str(n) for n in range(len(rng))]
    stored = {cid: meta for cid, _, meta in Index(s).iter_chunks()}
    return {
        "papers": papers,
        "chunks": chunks,
        "chroma": sorted(stored),
        "chroma_hashes": {cid: m["content_hash"] for cid, m in stored.items()},
        "vectors": {view.chunk_ids[j]: np.asarray(view.vectors[j]) for j in range(view.n_chunks)},
    }


def assert_same(got: dict, want: dict) -> None:
    assert got["papers"] == want["papers"]
    assert got["chunks"] == want["chunks"]
    assert got["chroma"] == want["chunks"], "Chroma holds exactly the published chunks"
    assert got["chroma_hashes"] == want["chroma_hashes"]
    for cid, vec in want["vectors"].items():
        assert float(got["vectors"][cid] @ vec) > 0.9999


def published_is_one_version(data: Path, versions: list[dict]) -> None:
    """While crashed: the view is wholly one of the expected versions and all its chunks are in Chroma."""
    s = _settings(data)
    view = views.current(s)
    papers = {view.papers["paper_id"][i]: view.papers["digest"][i] for i in range(view.n_papers)}
    assert any(papers == v["papers"] and sorted(view.chunk_ids) == v["chunks"] for v in versions)
    stored = {cid for cid, _, _ in Index(s).iter_chunks()}
    assert set(view.chunk_ids) <= stored, "every published chunk is readable in the store"


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Version A (8 papers), version B (A with 3 abstracts rewritten and 1 source added, plus 5 new papers),
    and the clean-ingest snapshots of A and of A-then-B."""
    base = tmp_path_factory.mktemp("crash")
    recs = _records(write_small_corpus(base / "src", n=13))
    a = _write(base / "a.jsonl", recs[:8])
    changed = [dict(r) for r in recs]
    for r in changed[:3]:
        r["abstract"] = "We revisit this problem with a new method. " + r["abstract"]
    b = _write(base / "b.jsonl", changed)
    clean = base / "clean"
    ingest([a], settings=_settings(clean))
    snap_a = snapshot(clean)
    ingest([b], settings=_settings(clean))
    snap_b = snapshot(clean)
    assert len(snap_b["papers"]) == 13 and len(snap_b["chunks"]) > 2 * BATCH
    return {"a": a, "b": b, "snap_a": snap_a, "snap_b": snap_b}


@pytest.mark.parametrize(
    "kill_at",
    ["parse:1", "embed:1", "write:1", "write:3", "publish:1", "publish:2", "delete:1", "gc:1"],
)
def test_update_killed_then_repaired(tmp_path, corpora, kill_at):
    data = tmp_path / "data"
    ingest([corpora["a"]], settings=_settings(data))
    proc = run_ingest(data, corpora["b"], kill_at)
    assert proc.returncode == -9, f"the ingest was not killed at {kill_at}: {proc.stderr[-500:]}"
    published_is_one_version(data, [corpora["snap_a"], corpora["snap_b"]])

    again = run_ingest(data, corpora["b"])
    assert again.returncode == 0, again.stderr[-800:]
    assert_same(snapshot(data), corpora["snap_b"])
    title = corpora["b"].read_text().splitlines()[0]
    top = retrieve(json.loads(title)["title"], k=1, mode="dense", settings=_settings(data))[0]
    assert top.text.startswith("We revisit this problem with a new method.")


@pytest.mark.parametrize("kill_at", ["embed:2", "write:2", "publish:1"])
def test_first_ingest_killed_then_repaired(tmp_path, corpora, kill_at):
    data = tmp_path / "data"
    proc = run_ingest(data, corpora["a"], kill_at)
    assert proc.returncode == -9, proc.stderr[-500:]
    assert views.current(_settings(data)) is None  # nothing published yet: readers get "run rag ingest"
    assert run_ingest(data, corpora["a"]).returncode == 0
    assert_same(snapshot(data), corpora["snap_a"])


def test_killed_twice_then_a_different_corpus_leaves_no_orphans(tmp_path, corpora):
    """Orphans of two crashed runs are collected by a later ingest of other files."""
    data = tmp_path / "data"
    ingest([corpora["a"]], settings=_settings(data))
    assert run_ingest(data, corpora["b"], "write:2").returncode == -9
    assert run_ingest(data, corpora["b"], "write:3").returncode == -9
    assert run_ingest(data, corpora["a"]).returncode == 0
    assert_same(snapshot(data), corpora["snap_a"])


def test_rebuild_killed_is_finished_by_the_next_ingest(tmp_path, corpora):
    data = tmp_path / "data"
    ingest([corpora["b"]], settings=_settings(data))
    assert run_ingest(data, corpora["a"], "write:1", "--rebuild").returncode == -9
    # readers still answer from the old version, whole (they never read Chroma)
    assert views.current(_settings(data)).n_papers == 13
    title = json.loads(corpora["b"].read_text().splitlines()[10])["title"]
    assert retrieve(title, k=1, settings=_settings(data))[0].title == title
    assert run_ingest(data, corpora["a"]).returncode == 0  # no --rebuild: the journal remembers it
    assert_same(snapshot(data), corpora["snap_a"])
