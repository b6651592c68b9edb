"""The Chroma index: incremental ingest, replacement of changed abstracts, model guard, server mode."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import free_port, make_settings, write_small_corpus
from rag import ingest, stats
from rag.errors import EmbeddingMismatchError, IndexMissingError, StoreError
from rag.index import Index

pytestmark = pytest.mark.slow  # real MiniLM embeddings and real Chroma


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_reingest_adds_nothing_and_changed_abstract_replaces_its_chunks(tmp_path):
    s = make_settings(tmp_path / "data")
    corpus = write_small_corpus(tmp_path / "c", n=6)
    first = ingest([corpus], settings=s)
    assert (first.added, first.updated, first.unchanged) == (6, 0, 0)
    assert stats(s).papers == 6

    again = ingest([corpus], settings=s)
    assert (again.added, again.updated, again.unchanged, again.chunks_written) == (0, 0, 6, 0)

    records = [json.loads(x) for x in corpus.read_text().splitlines()]
    records[0]["abstract"] = "A completely rewritten abstract about quantum gravity and black hole entropy " * 3
    ingest([_jsonl(corpus, records)], settings=s)
    st = stats(s)
    assert st.papers == 6
    texts = [t for _, t, m in Index(s).iter_chunks() if m["title"] == records[0]["title"]]
    assert texts and all("quantum gravity" in t for t in texts)  # old chunks are gone


def test_same_paper_from_a_second_file_merges_sources(tmp_path):
    s = make_settings(tmp_path / "data")
    a = write_small_corpus(tmp_path / "a", n=2)
    b = tmp_path / "b.jsonl"
    shutil.copy(a, b)
    ingest([a], settings=s)
    report = ingest([b], settings=s)
    assert report.updated == 2 and report.added == 0
    assert stats(s).sources == {"b.jsonl": 2, "small.jsonl": 2}


def test_bad_records_are_reported_and_good_ones_kept(tmp_path):
    s = make_settings(tmp_path / "data")
    good = json.loads(write_small_corpus(tmp_path / "c", n=1).read_text())
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(good) + "\n{broken\n" + json.dumps({"title": "x"}) + "\n")
    report = ingest([path], settings=s)
    assert report.added == 1
    assert sorted(report.skip_counts()) == [
        "entry without an abstract",
        "malformed JSON (Expecting property name enclosed in double quotes)",
    ]


def test_store_refuses_another_embedding_model(tmp_path):
    s = make_settings(tmp_path / "data")
    ingest([write_small_corpus(tmp_path / "c", n=2)], settings=s)
    other = make_settings(tmp_path / "data", embedding={"model": str(tmp_path)})
    with pytest.raises(EmbeddingMismatchError, match="rag ingest --rebuild"):
        stats(other)


def test_missing_index_says_to_ingest(tmp_path):
    with pytest.raises(IndexMissingError, match="run `rag ingest`"):
        stats(make_settings(tmp_path / "empty"))


def test_dead_chroma_server_is_a_clear_error(tmp_path):
    s = make_settings(tmp_path / "d", index={"chroma_host": "127.0.0.1", "chroma_port": free_port()})
    with pytest.raises(StoreError, match="cannot open the Chroma store at http://127.0.0.1"):
        stats(s)


@pytest.fixture
def chroma_server(tmp_path):
    """A real `chroma run` server on loopback."""
    exe = Path(sys.executable).parent / "chroma"
    port = free_port()
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(tmp_path / "srv"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import chromadb

    deadline = time.time() + 60
    while True:
        try:
            chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
            break
        except Exception:  # the server is still starting; any failure means "not yet"
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("chroma run did not start within 60 s")
            time.sleep(0.5)
    yield port
    proc.terminate()
    proc.wait(timeout=20)


def test_ingest_and_ask_through_a_chroma_server(tmp_path, chroma_server):
    """With a token configured (`chroma run` does not check tokens: this shows the client side works)."""
    from rag import ask

    s = make_settings(
        tmp_path / "d",
        index={"chroma_host": "127.0.0.1", "chroma_port": chroma_server, "chroma_token": "s3cret-token"},
    )
    assert "s3cret" not in repr(s.index)  # a SecretStr: never printed
    corpus = write_small_corpus(tmp_path / "c", n=8)
    assert ingest([corpus], settings=s).added == 8
    assert ingest([corpus], settings=s).unchanged == 8
    st = stats(s)
    assert st.papers == 8 and st.store == f"http://127.0.0.1:{chroma_server}"
    title = json.loads(corpus.read_text().splitlines()[3])["title"]
    answer = ask(title, settings=s)
    assert answer.sources[0].title == title


def test_https_to_a_plain_http_server_is_one_clear_line(tmp_path, chroma_server):
    s = make_settings(
        tmp_path / "d", index={"chroma_host": "127.0.0.1", "chroma_port": chroma_server, "chroma_ssl": True}
    )
    with pytest.raises(StoreError, match=f"cannot open the Chroma store at https://127.0.0.1:{chroma_server}") as err:
        ingest([write_small_corpus(tmp_path / "c", n=1)], settings=s)
    assert "\n" not in str(err.value)
