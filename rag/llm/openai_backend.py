"""OpenAI-compatible backend (OpenAI, vLLM, Ollama, llama.cpp's server...) through the `openai` client.

The client does the timeouts and the retries with exponential backoff (connection errors, 408,
409, 429, 5xx); this module turns its exceptions into one-line `LLMError`s that say the fix.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import openai

from rag.errors import ConfigError, LLMError
from rag.llm.base import Api, ContextOverflowError, LLMBackend, Prompt
from rag.settings import Settings
from rag.text import count_tokens

log = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"
# cl100k is not the server model's tokenizer; count this much extra so packed prompts still fit.
FOREIGN_TOKENIZER_MARGIN = 1.15

# (base_url, model) -> the API an "auto" probe settled on, so the probe happens once per process.
_resolved_api: dict[tuple[str, str], Api] = {}


def _first_line(text: str, limit: int = 200) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


class OpenAIBackend(LLMBackend):
    """Chat or completion requests to an OpenAI-compatible server, streamed."""

    def __init__(self, settings: Settings) -> None:
        cfg = settings.llm
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        if not key and not settings.openai_base_url:
            raise ConfigError(
                "the OpenAI backend needs OPENAI_API_KEY (for api.openai.com) or OPENAI_BASE_URL "
                "(for a local server such as `python -m llama_cpp.server`): set one, or set "
                "RAG_LLM__BACKEND=llamacpp"
            )
        self.url = (settings.openai_base_url or OPENAI_URL).rstrip("/")
        self.model = cfg.model
        self.temperature = cfg.temperature
        self.timeout = cfg.timeout
        self.context_window = cfg.n_ctx
        self.name = f"llm:openai:{cfg.model}"
        self._api_setting = cfg.api
        # Local servers ignore the key but the client insists on one.
        self._client_args: dict[str, Any] = {
            "api_key": key or "not-needed",
            "base_url": self.url,
            "timeout": cfg.timeout,
            "max_retries": cfg.retries,
        }
        self.client = openai.OpenAI(**self._client_args)

    @property
    def api(self) -> Api | None:
        if self._api_setting != "auto":
            return self._api_setting
        return _resolved_api.get((self.url, self.model))

    def count_tokens(self, text: str) -> int:
        n = count_tokens(text)
        return n if self.url == OPENAI_URL else int(n * FOREIGN_TOKENIZER_MARGIN) + 1

    def stream(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        api = self.api
        if api is not None:
            yield from self._stream(api, prompt, max_tokens)
            return
        # auto: chat first; a base model behind llama.cpp's server answers chat with empty text.
        got = False
        for delta in self._stream("chat", prompt, max_tokens):
            got = got or bool(delta.strip())
            yield delta
        if got:
            _resolved_api[(self.url, self.model)] = "chat"
            return
        log.info("%s: empty chat reply from %s, using the completions API", self.model, self.url)
        _resolved_api[(self.url, self.model)] = "completion"
        yield from self._stream("completion", prompt, max_tokens)

    def _stream(self, api: Api, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        common: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "stream": True,
        }
        finished, produced = False, False
        try:
            if api == "chat":
                chunks = self.client.chat.completions.create(messages=prompt.messages, **common)
            else:
                chunks = self.client.completions.create(
                    prompt=prompt.text, stop=prompt.stop[:4] or None, **common
                )
            for chunk in chunks:
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                delta = choice.delta.content if api == "chat" else choice.text
                finished = finished or choice.finish_reason is not None
                if delta:
                    produced = True
                    yield delta
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        if not finished:
            self._broken_stream(produced)

    def _broken_stream(self, produced: bool) -> None:
        """A stream that ends without a finish reason was cut by the server.

        llama.cpp's server does this (HTTP 200, then a dropped connection) when a streamed prompt
        exceeds its context, and the dropped connection poisons the pool, hence the new client.
        """
        self.client.close()
        self.client = openai.OpenAI(**self._client_args)
        if not produced:
            raise ContextOverflowError(
                f"the LLM server at {self.url} closed the stream without an answer, which llama.cpp's "
                "server does when the prompt exceeds its context: set RAG_LLM__N_CTX to the server's "
                "context size (or check the server's log)"
            )
        raise LLMError(
            f"the LLM server at {self.url} cut the answer short (the stream ended without a finish "
            "reason): check the server's log and ask again"
        )

    def _error(self, exc: openai.OpenAIError) -> LLMError:
        url, model = self.url, self.model
        if isinstance(exc, openai.APITimeoutError):
            return LLMError(
                f"the LLM server at {url} did not answer within {self.timeout:g} s: "
                "raise RAG_LLM__TIMEOUT, or use a smaller model or a faster server"
            )
        if isinstance(exc, openai.APIConnectionError):
            return LLMError(
                f"cannot reach the LLM server at {url}: start it, or fix OPENAI_BASE_URL "
                "(or unset it to use the embedded model)"
            )
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return LLMError(
                f"the LLM server at {url} rejected the API key ({exc.status_code}): set OPENAI_API_KEY "
                "to a valid key"
            )
        if isinstance(exc, openai.NotFoundError) or getattr(exc, "code", None) == "model_not_found":
            return LLMError(
                f"model '{model}' (or its endpoint) was not found at {url} (404): set RAG_LLM__MODEL to "
                f"one the server serves{self._served_models_hint()}, and check that OPENAI_BASE_URL ends "
                "in /v1"
            )
        if isinstance(exc, openai.BadRequestError):
            msg = _first_line(exc.message)
            if getattr(exc, "code", None) == "context_length_exceeded" or "context" in msg.lower():
                return ContextOverflowError(
                    f"the prompt exceeds the context window of '{model}' at {url}: set RAG_LLM__N_CTX "
                    f"to the server's context size ({msg})"
                )
            return LLMError(f"the LLM server at {url} refused the request (400): {msg}")
        if isinstance(exc, openai.RateLimitError):
            return LLMError(
                f"the LLM server at {url} is rate limiting (429) after {self.client.max_retries} retries: "
                "wait and ask again, or raise RAG_LLM__RETRIES"
            )
        if isinstance(exc, openai.APIStatusError):
            return LLMError(
                f"the LLM server at {url} failed ({exc.status_code}: {_first_line(exc.message)}): "
                "check the server's log"
            )
        return LLMError(f"the LLM request to {url} failed: {_first_line(str(exc))}")

    def _served_models_hint(self) -> str:
        """' (it serves: a, b)' when the server lists its models; '' when it cannot."""
        try:
            ids = [m.id for m in self.client.with_options(max_retries=0, timeout=5).models.list()]
        except openai.OpenAIError as exc:
            log.debug("listing models at %s failed: %s", self.url, exc)
            return ""
        return f" (it serves: {', '.join(ids[:8])})" if ids else ""
