"""The store when things go wrong: a Chroma server that dies and comes back, a full disk, a read-only folder.

Every failure is one line (a StoreError, exit code 2 in the CLI), and nothing published is lost:
the previous view keeps answering, and the next ingest after the fault is fixed completes normally.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.chroma_server import ChromaServer
from conftest import ROOT, make_settings, write_small_corpus
from rag import ask, ingest, retrieve, stats
from rag.errors import StoreError

pytestmark = pytest.mark.slow  # real MiniLM, real Chroma (embedded and `chroma run`), real processes


@pytest.fixture
def server(tmp_path):
    srv = ChromaServer(tmp_path / "srv")
    srv.start()
    yield srv
    srv.stop()


def _split(tmp_path: Path, n: int = 10, first: int = 6) -> tuple[list[dict], Path, Path]:
    recs = [json.loads(x) for x in write_small_corpus(tmp_path / "c", n=n).read_text().splitlines()]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in recs[:first]))
    b.write_text("".join(json.dumps(r) + "\n" for r in recs[first:]))
    return recs, a, b


def _cli(data: Path, *args: str, env_extra: dict | None = None, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), RAG_DATA_DIR=str(data), **(env_extra or {}))
    env.pop("RAG_TEST_KILL_AT", None)
    return subprocess.run(
        [sys.executable, "-c", "from rag.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        **kw,
    )


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr[-1500:]
    lines = [x for x in proc.stderr.splitlines() if x.strip() and not x.startswith(("Loading", "Embedding"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-1500:]
    return lines[0]


def test_chroma_server_down_mid_session_then_back(tmp_path, server):
    s = make_settings(tmp_path / "d", index={"chroma_host": "127.0.0.1", "chroma_port": server.port})
    recs, a, b = _split(tmp_path)
    assert ingest([a], settings=s).added == 6

    server.stop()
    # questions keep being answered from the published view while the server is away
    assert retrieve(recs[2]["title"], k=1, settings=s)[0].title == recs[2]["title"]
    with pytest.raises(StoreError, match=f"Chroma store at http://127.0.0.1:{server.port}") as err:
        ingest([b], settings=s)
    assert "\n" not in str(err.value)
    with pytest.raises(StoreError, match="cannot open the Chroma store"):
        stats(s)
    line = _one_line_error(
        _cli(
            tmp_path / "d",
            "ingest",
            str(b),
            env_extra={"RAG_INDEX__CHROMA_HOST": "127.0.0.1", "RAG_INDEX__CHROMA_PORT": str(server.port)},
        )
    )
    assert f"http://127.0.0.1:{server.port}" in line

    server.start()  # same port, same folder; this process is not restarted
    report = ingest([b], settings=s)
    assert (report.added, report.unchanged) == (4, 0)
    assert stats(s).papers == 10
    assert retrieve(recs[8]["title"], k=1, mode="dense", settings=s)[0].title == recs[8]["title"]
    assert ingest([a, b], settings=s).unchanged == 10


def test_full_disk_in_server_mode_keeps_the_published_view(tmp_path, server):
    """The client's data folder is "full" (RLIMIT_FSIZE: writes past 4 KB fail with EFBIG) while the
    new view is written: one-line error, the old view still answers, the next ingest completes."""
    data = tmp_path / "d"
    env = {"RAG_INDEX__CHROMA_HOST": "127.0.0.1", "RAG_INDEX__CHROMA_PORT": str(server.port)}
    s = make_settings(data, index={"chroma_host": "127.0.0.1", "chroma_port": server.port})
    recs, a, b = _split(tmp_path)
    ingest([a], settings=s)
    limit = (
        "import resource, signal, runpy, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096)); "
        "from rag.cli import main; sys.argv = ['rag'] + sys.argv[1:]; main()"
    )
    envs = dict(os.environ, PYTHONPATH=str(ROOT), RAG_DATA_DIR=str(data), **env)
    proc = subprocess.run(
        [sys.executable, "-c", limit, "ingest", str(b)], env=envs, capture_output=True, text=True, timeout=600
    )
    line = _one_line_error(proc)
    assert "cannot write the index" in line and "previously published index is still in use" in line
    assert stats(s).papers == 6
    assert retrieve(recs[1]["title"], k=1, settings=s)[0].title == recs[1]["title"]
    assert ingest([b], settings=s).added == 4
    assert stats(s).papers == 10
    assert not list((data / "views").rglob("tmp-*")), "the unfinished view folder was collected"


def test_full_disk_in_embedded_mode_is_one_line_and_loses_nothing(tmp_path):
    """Writes past 64 KB fail (RLIMIT_FSIZE), which Chroma's database hits first."""
    data = tmp_path / "d"
    s = make_settings(data)
    recs, a, b = _split(tmp_path)
    ingest([a], settings=s)
    limit = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536)); "
        "from rag.cli import main; sys.argv = ['rag'] + sys.argv[1:]; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", limit, "ingest", str(b)],
        env=dict(os.environ, PYTHONPATH=str(ROOT), RAG_DATA_DIR=str(data)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    _one_line_error(proc)
    assert stats(s).papers == 6
    assert ingest([b], settings=s).added == 4
    assert stats(s).papers == 10
    assert retrieve(recs[7]["title"], k=1, mode="dense", settings=s)[0].title == recs[7]["title"]


def _read_only(data: Path, *args: str) -> subprocess.CompletedProcess:
    """The CLI in a private mount namespace where `data` is a read-only bind mount (EROFS for every write)."""
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    cmd = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        str(data),
        sys.executable,
        "-c",
        "from rag.cli import main; main()",
        *args,
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT), RAG_DATA_DIR=str(data))
    env.pop("RAG_TEST_KILL_AT", None)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def _can_mount_read_only(tmp: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    tmp.mkdir(exist_ok=True)
    probe = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && ! touch "$0/x" 2>/dev/null',
            str(tmp),
        ],
        capture_output=True,
    )
    return probe.returncode == 0


def test_read_only_data_dir_answers_and_refuses_ingest_in_one_line(tmp_path):
    """On a read-only data folder (a real read-only mount), questions work and ingest says why it cannot write."""
    if not _can_mount_read_only(tmp_path / "probe"):
        pytest.skip("needs root and unshare(1) to make a private read-only mount")
    data = tmp_path / "data"
    recs, a, b = _split(tmp_path)
    ingest([a], settings=make_settings(data))
    proc = _read_only(data, "ask", recs[3]["title"], "--json")
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert json.loads(proc.stdout)["sources"][0]["title"] == recs[3]["title"]
    line = _one_line_error(_read_only(data, "ingest", str(b)))
    assert "cannot write" in line and "Read-only file system" in line
    s = make_settings(data)
    assert stats(s).papers == 6
    assert ingest([b], settings=s).added == 4  # writable again: the ingest completes
    assert not ask(recs[7]["title"], settings=s).abstained
