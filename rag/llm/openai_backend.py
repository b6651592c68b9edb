"""OpenAI-compatible backend (OpenAI, vLLM, Ollama, llama.cpp's server...) through the `openai` client.

RAG_LLM__TIMEOUT bounds the whole call: connecting, every retry and its backoff, the wait for the
first token and the full stream. The client's own timeout is per HTTP operation and its retries
multiply it (3 attempts x 60 s ran 202 s), so retries happen here, each attempt gets only the time
left, and each request runs in a worker thread the caller waits on with the deadline: a server that
keeps the connection open without sending tokens (or sends only keep-alive comments) cannot hold the
caller past it. Every failure becomes a one-line `LLMError` that says the fix and the real elapsed time;
the API key never appears in a message.

Raises: `ContextOverflowError` (a subclass of `LLMError`) when the prompt does not fit the server's
context, `LLMError` for everything else (unreachable, timed out, 4xx/5xx, malformed or empty output).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
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
# What the openai client itself would retry: connection errors and these statuses (5xx too).
RETRY_STATUS = {408, 409, 429}
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 8.0
# Malformed chunks surface as these from the client's JSON decoding and attribute access.
MALFORMED = (ValueError, TypeError, AttributeError, KeyError, IndexError)


class _Deadline:
    """The end of one whole LLM call, started when stream() is called."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.monotonic()
        self.end = self.start + seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start


class _TimedOut(Exception):
    """The deadline passed while waiting on the server (converted to LLMError with the details)."""

    def __init__(self, produced: bool) -> None:
        self.produced = produced


def _server_message(exc: openai.APIStatusError) -> str:
    """The server's own error message (the client's str() wraps it in "Error code: 500 - {...}")."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return _first_line(body["message"])
    return _first_line(exc.message)


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
        self.retries = cfg.retries
        self._key = key
        self.context_window = cfg.n_ctx
        self.name = f"llm:openai:{cfg.model}"
        self._api_setting = cfg.api
        # Local servers ignore the key but the client insists on one.
        self._client_args: dict[str, Any] = {
            "api_key": key or "not-needed",
            "base_url": self.url,
            "timeout": cfg.timeout,
            "max_retries": 0,  # retried here, within the deadline
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
        deadline = _Deadline(self.timeout)
        api = self.api
        if api is not None:
            yield from self._attempts(api, prompt, max_tokens, deadline, need_text=True)
            return
        # auto: chat first; a base model behind llama.cpp's server answers chat with empty text.
        got = False
        for delta in self._attempts("chat", prompt, max_tokens, deadline, need_text=False):
            got = got or bool(delta.strip())
            yield delta
        if got:
            _resolved_api[(self.url, self.model)] = "chat"
            return
        log.info("%s: empty chat reply from %s, using the completions API", self.model, self.url)
        _resolved_api[(self.url, self.model)] = "completion"
        yield from self._attempts("completion", prompt, max_tokens, deadline, need_text=True)

    def _attempts(
        self, api: Api, prompt: Prompt, max_tokens: int, deadline: _Deadline, need_text: bool
    ) -> Iterator[str]:
        """One request, retried with backoff on transient failures while time is left and nothing was shown."""
        attempt = 0
        while True:
            produced = False
            try:
                for delta in self._bounded(api, prompt, max_tokens, deadline, need_text):
                    produced = True
                    yield delta
                return
            except _TimedOut as exc:
                raise self._timeout_error(deadline, attempt + 1, exc.produced) from None
            except openai.OpenAIError as exc:
                wait = min(BACKOFF_FIRST * 2**attempt, BACKOFF_MAX)
                if produced or attempt >= self.retries or not _transient(exc) or deadline.remaining() <= wait:
                    if isinstance(exc, openai.APITimeoutError):
                        raise self._timeout_error(deadline, attempt + 1, produced) from None
                    raise self._error(exc, deadline, attempt + 1) from exc
                log.info("LLM request to %s failed (%s); retry %d in %.1f s", self.url, type(exc).__name__,
                         attempt + 1, wait)
                time.sleep(wait)
                attempt += 1

    def _bounded(
        self, api: Api, prompt: Prompt, max_tokens: int, deadline: _Deadline, need_text: bool
    ) -> Iterator[str]:
        """The request runs in a worker thread; the caller waits at most until the deadline.

        An httpx read blocked on a silent socket cannot be interrupted from outside, so the caller
        does not read the socket at all. After a timeout the worker is abandoned (its own httpx
        timeout, the time that was left, ends it) with a fresh client, so no half-read connection
        is reused.
        """
        items: queue.SimpleQueue = queue.SimpleQueue()
        stop = threading.Event()
        client = self.client

        def work() -> None:
            gen = self._request(client, api, prompt, max_tokens, deadline, need_text)
            try:
                for delta in gen:
                    if stop.is_set():
                        return
                    items.put(("delta", delta))
                items.put(("end", None))
            except BaseException as exc:  # handed over to the caller's thread, which raises it
                items.put(("error", exc))
            finally:
                gen.close()  # closes the HTTP stream, which stops the server generating

        threading.Thread(target=work, name="llm-request", daemon=True).start()
        produced = False
        try:
            while True:
                try:
                    kind, value = items.get(timeout=max(deadline.remaining(), 0.0))
                except queue.Empty:
                    self._renew_client()
                    raise _TimedOut(produced) from None
                if kind == "delta":
                    produced = True
                    yield value
                elif kind == "end":
                    return
                else:
                    raise value
        finally:
            stop.set()  # also when the caller stops reading early: the worker closes the stream

    def _request(
        self, client: openai.OpenAI, api: Api, prompt: Prompt, max_tokens: int, deadline: _Deadline, need_text: bool
    ) -> Iterator[str]:
        """One streamed HTTP request (runs in the worker thread)."""
        common: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "stream": True,
        }
        left = max(deadline.remaining(), 0.01)
        client = client.with_options(timeout=httpx.Timeout(left), max_retries=0)
        if api == "chat":
            chunks = client.chat.completions.create(messages=prompt.messages, **common)
        else:
            chunks = client.completions.create(prompt=prompt.text, stop=prompt.stop[:4] or None, **common)
        finished, produced, text, events = False, False, False, 0
        try:
            for chunk in chunks:
                events += 1
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                delta = choice.delta.content if api == "chat" else choice.text
                finished = finished or choice.finish_reason is not None
                if delta:
                    if not isinstance(delta, str):
                        raise TypeError(f"text is {type(delta).__name__}")
                    produced, text = True, text or bool(delta.strip())
                    yield delta
        except MALFORMED as exc:
            raise LLMError(
                f"the LLM server at {self.url} sent a malformed answer stream ({type(exc).__name__}): check "
                "that OPENAI_BASE_URL points at an OpenAI-compatible /v1 endpoint, and the server's log"
            ) from None
        except httpx.TimeoutException:  # the client wraps errors of the request, not of reading the stream
            raise _TimedOut(produced) from None
        except httpx.HTTPError as exc:
            raise LLMError(
                f"the connection to the LLM server at {self.url} broke during the answer ({type(exc).__name__}): "
                "check the server's log and ask again"
            ) from None
        finally:
            chunks.close()
        if not events and not _is_event_stream(chunks.response):
            kind = chunks.response.headers.get("content-type") or "no content type"
            raise LLMError(
                f"the LLM server at {self.url} did not answer like an OpenAI-compatible server (HTTP "
                f"{chunks.response.status_code}, {_first_line(kind, 60)}): check that OPENAI_BASE_URL ends in /v1"
            )
        if not finished:
            self._broken_stream(produced)
        if need_text and not text:
            raise LLMError(
                f"the LLM server at {self.url} returned an empty answer (model '{self.model}'): check the "
                "server's log, or try another model (RAG_LLM__MODEL) or RAG_LLM__API"
            )

    def _renew_client(self) -> None:
        """A fresh connection pool; the old client is left to its abandoned worker."""
        self.client = openai.OpenAI(**self._client_args)

    def _timeout_error(self, deadline: _Deadline, attempts: int, produced: bool) -> LLMError:
        what = "did not finish its answer" if produced else "did not answer"
        tries = f", {attempts} attempts" if attempts > 1 else ""
        return LLMError(
            f"the LLM server at {self.url} {what} within {deadline.elapsed():.1f} s (RAG_LLM__TIMEOUT="
            f"{self.timeout:g}{tries}): raise RAG_LLM__TIMEOUT, or use a smaller model or a faster server"
        )

    def _broken_stream(self, produced: bool) -> None:
        """A stream that ends without a finish reason was cut by the server.

        llama.cpp's server does this (HTTP 200, then a dropped connection) when a streamed prompt
        exceeds its context, and the dropped connection poisons the pool, hence the new client.
        """
        self._renew_client()
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

    def _error(self, exc: openai.OpenAIError, deadline: _Deadline, attempts: int) -> LLMError:
        err = self._describe(exc, deadline, attempts)
        if self._key and self._key in str(err):  # a server may echo the key in its error text
            err.args = (str(err).replace(self._key, "***"),)
        return err

    def _describe(self, exc: openai.OpenAIError, deadline: _Deadline, attempts: int) -> LLMError:
        url, model = self.url, self.model
        tries = f" ({attempts} attempts in {deadline.elapsed():.1f} s)" if attempts > 1 else ""
        if isinstance(exc, openai.APIConnectionError):
            return LLMError(
                f"cannot reach the LLM server at {url}{tries}: start it, or fix OPENAI_BASE_URL "
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
                f"one the server serves{self._served_models_hint(deadline)}, and check that OPENAI_BASE_URL ends "
                "in /v1"
            )
        if isinstance(exc, openai.BadRequestError):
            msg = _server_message(exc)
            if getattr(exc, "code", None) == "context_length_exceeded" or "context" in msg.lower():
                return ContextOverflowError(
                    f"the prompt exceeds the context window of '{model}' at {url}: set RAG_LLM__N_CTX "
                    f"to the server's context size ({msg})"
                )
            return LLMError(f"the LLM server at {url} refused the request (400): {msg}")
        if isinstance(exc, openai.RateLimitError):
            return LLMError(
                f"the LLM server at {url} is rate limiting (429) after {attempts - 1} retries: "
                "wait and ask again, or raise RAG_LLM__RETRIES"
            )
        if isinstance(exc, openai.APIStatusError):
            return LLMError(
                f"the LLM server at {url} failed ({exc.status_code}: {_server_message(exc)}){tries}: "
                "check the server's log"
            )
        return LLMError(f"the LLM request to {url} failed: {_first_line(str(exc))}")

    def _served_models_hint(self, deadline: _Deadline) -> str:
        """' (it serves: a, b)' when the server lists its models; '' when it cannot (or no time is left)."""
        if deadline.remaining() < 0.2:
            return ""
        try:
            wait = min(3.0, deadline.remaining())
            ids = [m.id for m in self.client.with_options(max_retries=0, timeout=wait).models.list()]
        except openai.OpenAIError as exc:
            log.debug("listing models at %s failed: %s", self.url, exc)
            return ""
        return f" (it serves: {', '.join(ids[:8])})" if ids else ""


def _transient(exc: openai.OpenAIError) -> bool:
    """Worth another attempt: what the openai client itself retries (connection, 408, 409, 429, 5xx)."""
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUS or exc.status_code >= 500
    return False


def _is_event_stream(response: httpx.Response) -> bool:
    return "text/event-stream" in (response.headers.get("content-type") or "").lower()
