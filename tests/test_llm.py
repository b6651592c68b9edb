"""LLM answers with real parts: llama.cpp's OpenAI-compatible server in a subprocess, and the same
GGUF (Gemma-3 270M, assembled from its PyPI package) embedded in-process. No HTTP mocks.

Generation is kept short (max_tokens 48, two sources) so the file runs in a few minutes on 2 cores.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from rag import Answer, ask, ask_stream, retrieve
from rag.errors import LLMError
from rag.generate import FALLBACK_MODE, build_prompt
from rag.llm import ContextOverflowError, Prompt, get_backend
from rag.llm.budget import pack_sources
from rag.llm.gguf import default_gguf
from rag.llm.llamacpp_backend import default_threads
from rag.llm.openai_backend import OpenAIBackend
from rag.models import Passage
from rag.settings import Settings
from rag.verify import verify_answer

pytestmark = pytest.mark.slow

API_KEY = "test-key"
MODEL = "gemma-3-270m"  # llama.cpp's server answers with its one model whatever the name
QUESTION = "How many parameters and how much inference time does MoFME save for multi-weather removal?"
UNANSWERABLE = "What is the boiling point of liquid nitrogen on Mars in the 14th century?"
LLM = {"max_tokens": 48, "n_ctx": 2048, "retries": 0, "timeout": 120}


def _with(s: Settings, **update) -> Settings:
    """Validated settings like `s` (same index) with other LLM / endpoint settings."""
    data = s.model_dump()
    llm = {**data.pop("llm"), **update.pop("llm", {})}
    return Settings(_env_file=None, **{**data, **update, "llm": llm})


@pytest.fixture(scope="session")
def gguf(small_index) -> Path:
    return default_gguf(small_index)


@pytest.fixture(scope="session")
def llama_server(gguf, tmp_path_factory):
    """`python -m llama_cpp.server` on a free port, with an API key; yields its /v1 URL."""
    from conftest import free_port

    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    threads = str(default_threads())  # the server's default batch threads (all cores) thrash on 2 cores
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", "2048", "--api_key", API_KEY,
        "--n_threads", threads, "--n_threads_batch", threads,
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    client = openai.OpenAI(base_url=url, api_key=API_KEY, max_retries=0, timeout=2)
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


@pytest.fixture
def server_settings(small_index, llama_server) -> Settings:
    return _with(
        small_index,
        openai_base_url=llama_server,
        openai_api_key=API_KEY,
        llm={**LLM, "backend": "openai", "model": MODEL, "api": "completion"},
    )


@pytest.fixture
def embedded_settings(small_index, gguf) -> Settings:
    return _with(small_index, llm={**LLM, "backend": "llamacpp"})


def _check_verified(a: Answer, llm_mode: str) -> None:
    """Not abstained, a known mode, and every remaining sentence and citation checks out again."""
    assert isinstance(a, Answer)
    assert not a.abstained
    assert a.mode in (llm_mode, FALLBACK_MODE)
    assert "first_token" in a.timings, "the LLM was not called"
    assert a.citations and [c.number for c in a.citations] == list(range(1, len(a.citations) + 1))
    assert all(s.supported for s in a.sentences)
    cited = [Passage(paper_id=c.paper_id, title=c.title, text=c.passage, score=c.score) for c in a.citations]
    again = verify_answer(a.text, cited)
    assert not again.removed and again.text == a.text
    if a.mode == FALLBACK_MODE:
        assert a.removed, "a fallback means generated sentences were removed"


def test_ask_via_openai_compatible_server(server_settings):
    a = ask(QUESTION, k=2, settings=server_settings, answer_mode="llm")
    _check_verified(a, f"llm:openai:{MODEL}")


def test_ask_stream_via_server_yields_text_then_answer(server_settings):
    items = list(ask_stream(QUESTION, k=2, settings=server_settings, answer_mode="llm"))
    *deltas, final = items
    assert deltas and all(isinstance(d, str) for d in deltas)
    assert "".join(deltas).strip(), "the model streamed nothing"
    _check_verified(final, f"llm:openai:{MODEL}")


def test_auto_answer_mode_uses_the_configured_endpoint(server_settings):
    # Abstention comes first: an unanswerable question never reaches the model.
    a = ask(UNANSWERABLE, k=2, settings=server_settings, answer_mode="auto")
    assert a.abstained and a.mode == f"llm:openai:{MODEL}"
    assert "first_token" not in a.timings and "load" not in a.timings


def test_dead_server_is_one_line_llm_error_naming_the_url(small_index):
    from conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    s = _with(small_index, openai_base_url=url, llm={**LLM, "backend": "openai", "timeout": 5})
    with pytest.raises(LLMError) as err:
        ask(QUESTION, k=2, settings=s, answer_mode="llm")
    msg = str(err.value)
    assert url in msg and "\n" not in msg and "OPENAI_BASE_URL" in msg


def test_wrong_api_key_is_401_with_the_fix(server_settings):
    s = _with(server_settings, openai_api_key="wrong-key")
    with pytest.raises(LLMError, match=r"rejected the API key \(401\).*OPENAI_API_KEY"):
        ask(QUESTION, k=2, settings=s, answer_mode="llm")


def test_unknown_model_name(server_settings, llama_server):
    tiny = Prompt(text="The capital of France is", messages=[], stop=["\n"])
    # llama.cpp's server serves its single model under any name (documented behaviour, not an error)
    s = _with(server_settings, llm={"model": "no-such-model"})
    assert isinstance(OpenAIBackend(s).complete(tiny, 4), str)
    # a 404 (what OpenAI, vLLM or Ollama return for an unknown model) names the model and the fix
    wrong = llama_server.removesuffix("/v1") + "/nowhere/v1"
    s = _with(server_settings, openai_base_url=wrong, llm={"model": "no-such-model"})
    with pytest.raises(LLMError, match=r"model 'no-such-model'.*not found.*\(404\).*RAG_LLM__MODEL") as err:
        OpenAIBackend(s).complete(tiny, 4)
    assert "\n" not in str(err.value)


def test_server_context_overflow_is_typed(server_settings):
    # the server refuses before evaluating anything, so this is cheap; the answerer repacks on it
    long = Prompt(text="word " * 5000, messages=[], stop=[])
    with pytest.raises(ContextOverflowError, match="RAG_LLM__N_CTX"):
        OpenAIBackend(server_settings).complete(long, 16)


def test_auto_api_falls_back_from_empty_chat_to_completion(server_settings):
    # Gemma-3 270M is a base model: llama.cpp's server answers this chat request with empty text
    s = _with(server_settings, llm={"api": "auto", "model": "auto-probe"})
    backend = OpenAIBackend(s)
    assert backend.api is None
    p = Prompt(text="Two plus two equals", messages=[{"role": "user", "content": "What is two plus two?"}])
    assert backend.complete(p, 8).strip()
    assert backend.api == "completion"
    assert OpenAIBackend(s).api == "completion", "the probe's result is remembered for the process"


def test_embedded_llamacpp_backend(embedded_settings, gguf):
    backend = get_backend(embedded_settings)
    assert backend.name == f"llm:llamacpp:{gguf.name}"
    assert backend.api == "completion"  # the GGUF has no chat template: a base model
    assert backend.context_window == 2048
    assert backend.count_tokens("hello world") == len(backend.llama.tokenize(b"hello world"))
    items = list(ask_stream(QUESTION, k=2, settings=embedded_settings, answer_mode="llm"))
    *deltas, final = items
    assert deltas and all(isinstance(d, str) for d in deltas)
    _check_verified(final, backend.name)


def test_embedded_tiny_context_packs_instead_of_overflowing(small_index, gguf):
    s = _with(small_index, llm={**LLM, "backend": "llamacpp", "n_ctx": 512, "max_tokens": 16})
    backend = get_backend(s)
    assert backend.context_window == 512
    passages = retrieve(QUESTION, k=5, settings=s)
    packed = pack_sources(passages, lambda src: build_prompt(QUESTION, src), backend.prompt_tokens, 512, 16)
    assert len(packed.sources) < len(passages)  # five abstracts cannot fit in 512 tokens
    assert len(backend.llama.tokenize(packed.prompt.text.encode())) + 16 <= 512
    a = ask(QUESTION, k=5, settings=s, answer_mode="llm")  # the real call: no context overflow
    assert isinstance(a, Answer) and "first_token" in a.timings


def test_slow_server_fails_within_the_whole_timeout(server_settings):
    """The real server cannot read 1,200 tokens and write 512 in a second: the call ends at the
    timeout with the real elapsed time, retries included (it used to take (retries + 1) x timeout)."""
    s = _with(server_settings, llm={"timeout": 1.0, "retries": 3})
    long = Prompt(text="word " * 1200 + "\nOnce upon a time", messages=[], stop=[])
    t = time.monotonic()
    with pytest.raises(LLMError, match=r"did not (answer|finish its answer) within \d+\.\d s \(RAG_LLM__TIMEOUT=1\b"):
        OpenAIBackend(s).complete(long, 512)
    assert time.monotonic() - t < 1.0 + 3.0  # behaviour, not a speed target (it used to take 4 x 1 s + backoff)
    time.sleep(2)  # let the server notice the dropped request before the next test uses it


def test_dead_server_fails_within_the_timeout(small_index):
    from conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    s = _with(small_index, openai_base_url=url, llm={**LLM, "backend": "openai", "timeout": 2, "retries": 5})
    t = time.monotonic()
    with pytest.raises(LLMError, match="cannot reach the LLM server") as err:
        OpenAIBackend(s).complete(Prompt(text="hi", messages=[]), 4)
    assert time.monotonic() - t < 2 + 4.0 and "\n" not in str(err.value)  # 6 attempts used to take ~20 s
