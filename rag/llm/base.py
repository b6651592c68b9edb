"""The interface every LLM backend implements, so the answerer does not care where tokens come from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from rag.errors import LLMError

Api = Literal["completion", "chat"]

# Tokens a chat template adds around each message (role markers, turn delimiters); generous on purpose.
CHAT_MESSAGE_OVERHEAD = 12


class ContextOverflowError(LLMError):
    """The prompt did not fit the model's context window; the answerer repacks with fewer sources."""


@dataclass(frozen=True)
class Prompt:
    """One request in both shapes: a plain completion prompt (base models) and chat messages.

    Both are rendered from the same sources so a backend can use whichever its model understands
    (and the OpenAI backend can fall back from chat to completion) without re-rendering.
    """

    text: str
    messages: list[dict[str, str]]
    stop: list[str] = field(default_factory=list)
    grammar: str | None = None  # GBNF constraining the reply (llama.cpp only; servers ignore it)


class LLMBackend(ABC):
    """complete()/stream() a `Prompt`; count tokens the way the model will."""

    #: "llm:openai:<model>" or "llm:llamacpp:<file>": goes into Answer.mode.
    name: str
    #: The context window prompts must fit, in this backend's tokens.
    context_window: int

    @property
    @abstractmethod
    def api(self) -> Api | None:
        """completion or chat; None while an "auto" choice is still undecided."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens of `text` in the model's tokenizer (or a safe estimate of it)."""

    @abstractmethod
    def stream(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        """Yield text deltas as the model produces them; raise LLMError with the fix on failure."""

    def complete(self, prompt: Prompt, max_tokens: int) -> str:
        return "".join(self.stream(prompt, max_tokens))

    def prompt_tokens(self, prompt: Prompt) -> int:
        """Tokens the request will occupy; the larger shape while the API is undecided."""
        completion = self.count_tokens(prompt.text)
        chat = sum(self.count_tokens(m["content"]) + CHAT_MESSAGE_OVERHEAD for m in prompt.messages)
        return {"completion": completion, "chat": chat}.get(self.api or "", max(completion, chat))
