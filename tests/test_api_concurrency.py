"""ask() from many threads and from several processes on one data directory while `rag ingest` writes to it.

Everything is real: a copy of the 24-paper Chroma index, the real embedding model, the `rag` CLI in
its own process adding 12 more papers. The readers (8 threads here, 3 processes) have answered before
the ingest starts and keep asking, every couple of seconds each, until it has finished, so asks are in
flight throughout the ingest, its write included. A torn read would show as an exception, an invalid
Answer, or a source whose title or abstract is not one of the papers'.

A process that opened the store before the ingest must see the new papers in every retrieval
mode, hybrid included (readers answer from the published view and notice a newer one with one
`stat`), and so must a fresh process. `test_first_asks_from_threads_at_once` covers first asks from
several threads racing to open a store this process has not opened yet (chromadb's per-folder
client cache once failed there with "'RustBindingsAPI' object has no attribute 'bindings'").
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, make_settings

pytestmark = pytest.mark.slow

THREADS = 8
PROCESSES = 3
MIN_ASKS = 3  # per thread and per process; each keeps asking until the ingest is over
PAUSE = 2.0  # seconds between a reader's asks: 11 readers on 2 cores must leave the ingest some CPU
K = 3
N_EXTRA = 12
TIMEOUT = 600  # seconds for any one phase: catches a hang, not a slow machine

# A reader process: asks in a loop, one JSON line per answer, until the stop file exists.
READER = """
import json, sys, time
from pathlib import Path
from rag import ask
from rag.settings import Settings

data, questions, stop, ready = Path(sys.argv[1]), json.loads(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
settings = Settings(_env_file=None, data_dir=data)
i = 0
while i < int(sys.argv[5]) or not stop.exists():
    t0 = time.time()
    answer = ask(questions[i % len(questions)], k=int(sys.argv[6]), settings=settings, answer_mode="extractive")
    print(json.dumps({"t0": t0, "t1": time.time(), "answer": answer.model_dump(mode="json")}), flush=True)
    i += 1
    ready.touch()
    time.sleep(float(sys.argv[7]))
"""
FRESH = """
import json, sys
from pathlib import Path
from rag import ask
from rag.settings import Settings

answer = ask(sys.argv[2], settings=Settings(_env_file=None, data_dir=Path(sys.argv[1])), answer_mode="extractive")
print(json.dumps([p.title for p in answer.sources]))
"""


def child_env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_DATA_DIR=str(data), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT))
    env["RAG_ANSWER__MODEL_CHECK"] = "false"  # as in conftest: these tests are about concurrency, not the check
    return env


def write_jsonl(path: Path, papers) -> Path:
    rows = [{"title": p.title, "abstract": p.abstract, "date": p.date} for p in papers]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def problems(answer, abstracts: dict[str, str]) -> list[str]:
    """What is wrong with an answer read while the store changed (empty: nothing)."""
    out = []
    if not answer.text.strip():
        out.append("empty answer text")
    if not answer.abstained and not answer.citations:
        out.append("an answer without citations")
    ids = [p.paper_id for p in answer.sources]
    if len(set(ids)) != len(ids):
        out.append(f"a paper twice among the sources: {ids}")
    for p in answer.sources:
        if abstracts.get(p.title) != p.text:
            out.append(f"source {p.title[:60]!r}: not one of the papers, or not its whole abstract")
    for c in answer.citations:
        if c.paper_id not in ids or abstracts.get(c.title) != c.passage:
            out.append(f"citation [{c.number}] {c.title[:60]!r} does not match a source")
    return out


def test_ask_from_threads_and_processes_during_an_ingest(small_index, tmp_path):
    import rag
    from eval.dataset import DEFAULT_DATASET, load_dataset
    from rag.corpus.loader import BUNDLED_DIR, load_corpus
    from rag.models import Answer

    data = tmp_path / "data"
    shutil.copytree(small_index.data_dir, data)
    settings = make_settings(data)
    papers, _, _, _ = load_corpus([BUNDLED_DIR])
    base, extra = papers[:24], papers[24 : 24 + N_EXTRA]  # conftest's small index holds the first 24
    extra_file = write_jsonl(tmp_path / "extra.jsonl", extra)
    parsed, _, _, _ = load_corpus([write_jsonl(tmp_path / "base.jsonl", base), extra_file])
    abstracts = {p.title: p.abstract for p in parsed}  # as the index stores them
    gold = [i.question for i in load_dataset(DEFAULT_DATASET)]
    questions = [f"What does the paper '{p.title}' propose?" for p in base[:6]] + gold[:4] + gold[-2:]

    stop, go, ingest_done = tmp_path / "stop", threading.Event(), threading.Event()
    env = child_env(data)
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(data), json.dumps(questions[n::2]), str(stop),
             str(tmp_path / f"ready-{n}"), str(MIN_ASKS), str(K), str(PAUSE)],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for n in range(PROCESSES)
    ]
    results: list[tuple[str, float, float, object]] = []  # (reader, start, end, answer)
    failures: list[str] = []
    lock = threading.Lock()

    def thread_reader(n: int) -> None:
        go.wait(timeout=TIMEOUT)
        i = 0
        while i < MIN_ASKS or not ingest_done.is_set():
            t0 = time.time()
            try:
                answer = rag.ask(
                    questions[(n + i) % len(questions)], k=K, settings=settings, answer_mode="extractive"
                )
            except Exception as exc:  # the point of the test: any exception in any thread is a failure
                with lock:
                    failures.append(f"thread {n}: {type(exc).__name__}: {exc}")
                return
            with lock:
                results.append((f"thread {n}", t0, time.time(), answer))
            i += 1
            time.sleep(PAUSE)

    threads = [threading.Thread(target=thread_reader, args=(n,), daemon=True) for n in range(THREADS)]
    ingest = None
    try:
        for t in threads:
            t.start()
        deadline = time.time() + TIMEOUT
        while not all((tmp_path / f"ready-{n}").exists() for n in range(PROCESSES)):
            assert all(r.poll() is None for r in readers), "a reader process died before its first answer"
            assert time.time() < deadline, "reader processes did not answer a first question in time"
            time.sleep(0.2)

        go.set()  # threads start asking; the processes already answered once
        ingest_start = time.time()
        ingest = subprocess.run(
            [sys.executable, "-m", "rag.cli", "ingest", str(extra_file), "--json"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT,
        )
        ingest_end = time.time()
    finally:
        go.set()
        ingest_done.set()
        stop.touch()
        for t in threads:
            t.join(timeout=TIMEOUT)
        outputs = []
        for r in readers:
            try:
                outputs.append(r.communicate(timeout=TIMEOUT))
            except subprocess.TimeoutExpired:
                r.kill()
                outputs.append(r.communicate())

    assert ingest.returncode == 0, ingest.stderr[-2000:]
    assert json.loads(ingest.stdout)["added"] == N_EXTRA
    assert not failures, failures[:3]
    assert not any(t.is_alive() for t in threads), "a thread is still asking"
    for n, (r, (out, err)) in enumerate(zip(readers, outputs)):
        assert r.returncode == 0, f"reader process {n} failed:\n{err[-2000:]}"
        for line in out.splitlines():
            row = json.loads(line)
            results.append((f"process {n}", row["t0"], row["t1"], Answer.model_validate(row["answer"])))

    assert len(results) >= (THREADS + PROCESSES) * MIN_ASKS
    bad = [(who, a.question, p) for who, _, _, a in results for p in problems(a, abstracts)]
    assert not bad, bad[:5]
    asked_during = {who for who, t0, t1, _ in results if t0 < ingest_end and t1 > ingest_start}
    assert len(asked_during) == THREADS + PROCESSES, f"only {sorted(asked_during)} asked while the ingest ran"

    # after the ingest: this long-running process sees the new chunks (counts, keyword search) ...
    assert rag.stats(settings=settings).papers == 24 + N_EXTRA
    new = {p.title for p in extra}
    probe = extra[3].title
    assert new & {p.title for p in rag.ask(probe, settings=settings, mode="bm25", answer_mode="extractive").sources}
    # the published view: a long-running process sees them in every mode, hybrid included
    assert new & {p.title for p in rag.ask(probe, settings=settings, answer_mode="extractive").sources}
    # ... and a fresh process finds a new paper with the default (hybrid) retrieval
    fresh = subprocess.run(
        [sys.executable, "-c", FRESH, str(data), probe],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert new & set(json.loads(fresh.stdout)), "a fresh process should retrieve the newly ingested paper"


def test_first_asks_from_threads_at_once(small_index, tmp_path):
    """Eight threads ask their first questions together on a store this process has not opened yet."""
    import rag

    data = tmp_path / "data"
    shutil.copytree(small_index.data_dir, data)
    settings = make_settings(data)
    start = threading.Barrier(THREADS)
    failures: list[str] = []
    answers = []

    def first_ask(n: int) -> None:
        start.wait(timeout=60)
        try:
            answers.append(rag.ask(f"linear attention {n}", k=K, settings=settings, answer_mode="extractive"))
        except Exception as exc:  # any exception in any thread is the failure this test looks for
            failures.append(f"thread {n}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=first_ask, args=(n,), daemon=True) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT)
    assert not failures, failures[:3]
    assert len(answers) == THREADS
