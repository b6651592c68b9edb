"""Embedded backend: a GGUF model run in-process by llama.cpp (`llama_cpp.Llama`), no server needed."""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.errors import LLMError, ModelUnavailableError
from rag.llm.base import Api, ContextOverflowError, LLMBackend, Prompt
from rag.llm.gguf import resolve_local_model
from rag.settings import Settings

log = logging.getLogger(__name__)

# One loaded model per process (a few hundred MB); llama.cpp contexts are not thread-safe, so
# generation holds the lock (the UI may ask from several threads).
_lock = threading.RLock()
_loaded: dict[tuple[str, int, int], Any] = {}


@atexit.register
def _close_all() -> None:
    """Free models before interpreter teardown (Llama.__del__ at exit fails on unloaded globals)."""
    with _lock:
        for key in list(_loaded):
            _loaded.pop(key).close()


def default_threads() -> int:
    """Every core, for prompt evaluation as well as generation.

    Measured on the idle 2-core machine (scripts/bench_llm.py, 10 gold questions, Qwen2.5-Coder-1.5B):
    first token p50 5.8 s with one thread, 3.3 s with two; complete answer 8.2 s vs 5.7 s. On a
    machine whose cores are busy with other work, fewer threads are faster (llama.cpp's threads wait
    for each other at every step): set RAG_LLM__N_THREADS=1 there.
    """
    return max(1, os.cpu_count() or 1)


def _threads(configured: int | None) -> int:
    return configured or default_threads()


def load_llama(path: Path, n_ctx: int, n_threads: int) -> Any:
    """The `Llama` for this file and context size, loaded once; a different one replaces it."""
    key = (str(path), n_ctx, n_threads)
    with _lock:
        if key in _loaded:
            return _loaded[key]
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelUnavailableError(
                "llama-cpp-python is not installed: pip install 'llama-cpp-python[server]==0.3.36' "
                "(or set OPENAI_BASE_URL to use a server)"
            ) from exc
        for old in list(_loaded):
            _loaded.pop(old).close()
        try:
            llama = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise LLMError(
                f"llama.cpp cannot load {path} ({exc}): check that it is a GGUF file, or lower "
                "RAG_LLM__N_CTX if memory is short"
            ) from exc
        _loaded[key] = llama
        return llama


@functools.lru_cache(maxsize=16)
def _grammar(gbnf: str) -> Any:
    from llama_cpp import LlamaGrammar

    try:
        return LlamaGrammar.from_string(gbnf, verbose=False)
    except ValueError as exc:
        raise LLMError(f"llama.cpp rejected the answer grammar ({exc}): set RAG_ANSWER__LLM_GRAMMAR=false") from exc


class LlamaCppBackend(LLMBackend):
    """Completion or chat with an in-process GGUF model, counted with its own tokenizer."""

    def __init__(self, settings: Settings) -> None:
        cfg = settings.llm
        self.path = resolve_local_model(settings)
        self.llama = load_llama(self.path, cfg.n_ctx, _threads(cfg.n_threads))
        self.context_window = self.llama.n_ctx()
        self.temperature = cfg.temperature
        self.name = f"llm:llamacpp:{self.path.name}"
        has_template = bool(self.llama.metadata.get("tokenizer.chat_template"))
        self._api: Api = cfg.api if cfg.api != "auto" else ("chat" if has_template else "completion")

    @property
    def api(self) -> Api:
        return self._api

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=True, special=True))

    def stream(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        params: dict[str, Any] = {
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "repeat_penalty": 1.1,  # small models loop ("[1] ... [2] ... [3] ...") without it
            "stream": True,
        }
        if prompt.grammar:
            params["grammar"] = _grammar(prompt.grammar)
        with _lock:
            try:
                if self._api == "chat":
                    chunks = self.llama.create_chat_completion(messages=prompt.messages, **params)
                    for chunk in chunks:
                        delta = chunk["choices"][0]["delta"].get("content")
                        if delta:
                            yield delta
                else:
                    chunks = self.llama.create_completion(prompt.text, stop=prompt.stop, **params)
                    for chunk in chunks:
                        if chunk["choices"][0]["text"]:
                            yield chunk["choices"][0]["text"]
            except ValueError as exc:
                if "context window" in str(exc):
                    raise ContextOverflowError(
                        f"the prompt exceeds the {self.context_window}-token context of {self.path.name}: "
                        "raise RAG_LLM__N_CTX or lower RAG_RETRIEVAL__K"
                    ) from exc
                raise LLMError(f"llama.cpp failed on {self.path.name}: {exc}") from exc
            except RuntimeError as exc:
                raise LLMError(
                    f"llama.cpp failed on {self.path.name} ({exc}): lower RAG_LLM__N_CTX, or try another GGUF"
                ) from exc
