"""The Chroma index: incremental ingest, replacement of changed abstracts, model guard, server mode."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.chroma_server import ChromaServer
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
    """A real `chroma run` server on loopback; yields its port."""
    with ChromaServer(tmp_path / "srv") as srv:
        yield srv.port


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


class _TokenGate:
    """A reverse proxy that refuses requests without the right token, in front of a real `chroma run`.

    Why a proxy: chromadb 1.x's server (`chroma run`) accepts the client's token settings but does
    not check them (chroma-core/chroma#4965, auth is a no-op in its Rust frontend), so the enforcing
    part is what a deployment puts in front of it (nginx, Caddy, a cloud gateway). This one is a
    few lines of http.server: it checks the header and forwards everything else unchanged.
    """

    def __init__(self, upstream: int, header: str, token: str):
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        gate = self
        self.allowed = self.refused = 0
        expected = f"Bearer {token}" if header == "Authorization" else token

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _forward(self):
                if self.headers.get(header) != expected:
                    gate.refused += 1
                    body = b'{"error":"Unauthorized"}'
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                gate.allowed += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("header", ["Authorization", "X-Chroma-Token"])
def test_token_auth_against_an_enforcing_gateway(tmp_path, chroma_server, header):
    gate = _TokenGate(chroma_server, header, "s3cret-token")
    try:
        where = {"chroma_host": "127.0.0.1", "chroma_port": gate.port, "chroma_token_header": header}
        s = make_settings(tmp_path / "d", index={**where, "chroma_token": "s3cret-token"})
        corpus = write_small_corpus(tmp_path / "c", n=4)
        assert ingest([corpus], settings=s).added == 4
        assert stats(s).papers == 4
        assert gate.allowed > 0 and gate.refused == 0

        more = write_small_corpus(tmp_path / "more", n=6)  # two new papers: ingest must write to the server
        for token in ("wrong-token", None):
            bad = make_settings(tmp_path / "d", index={**where, "chroma_token": token})
            with pytest.raises(StoreError) as err:
                ingest([more], settings=bad)
            msg = str(err.value)
            assert "\n" not in msg and "refused" in msg and "RAG_INDEX__CHROMA_TOKEN" in msg, msg
            assert "wrong-token" not in msg  # the secret is never echoed
        assert gate.refused >= 2
        assert stats(s).papers == 4  # nothing was lost by the refused attempts
        assert ingest([more], settings=s).added == 2
    finally:
        gate.close()
