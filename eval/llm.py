"""OpenAI-compatible chat endpoints for the evaluation: the judge, and the answering model for
PubMedQA. The judge has its own settings (RAG_EVAL__JUDGE_*) so that it can be a different, and
preferably stronger, model than the one being judged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from rag.errors import LLMError
from rag.settings import Settings


@dataclass(frozen=True)
class Endpoint:
    base_url: str | None
    api_key: str | None = field(repr=False)  # never in a repr (log lines, error reports)
    model: str
    timeout: float
    retries: int

    def describe(self) -> str:
        return f"{self.model} at {self.base_url or 'api.openai.com'}"


def judge_endpoint(settings: Settings) -> Endpoint | None:
    """The judge, when RAG_EVAL__JUDGE_BASE_URL or RAG_EVAL__JUDGE_API_KEY is set."""
    ev = settings.eval
    if not ev.judge_base_url and ev.judge_api_key is None:
        return None
    key = ev.judge_api_key.get_secret_value() if ev.judge_api_key else None
    return Endpoint(ev.judge_base_url, key, ev.judge_model, ev.judge_timeout, settings.llm.retries)


def answer_endpoint(settings: Settings) -> Endpoint | None:
    """The answering model's OpenAI-compatible endpoint (OPENAI_BASE_URL / OPENAI_API_KEY), if any."""
    if not settings.openai_base_url and settings.openai_api_key is None:
        return None
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return Endpoint(
        settings.openai_base_url, key, settings.llm.model, settings.llm.timeout, settings.llm.retries
    )


class ChatClient:
    """A thin wrapper over openai.OpenAI: one call, text out, errors as LLMError."""

    def __init__(self, endpoint: Endpoint):
        from openai import OpenAI

        self.endpoint = endpoint
        self._client = OpenAI(
            base_url=endpoint.base_url,
            api_key=endpoint.api_key or "not-needed",  # local servers accept any key
            timeout=endpoint.timeout,
            max_retries=endpoint.retries,
        )

    def complete(
        self, messages: list[dict[str, str]], max_tokens: int = 512, temperature: float = 0.0
    ) -> str:
        import openai

        try:
            resp = self._client.chat.completions.create(
                model=self.endpoint.model, messages=messages, max_tokens=max_tokens, temperature=temperature
            )
        except openai.APIError as exc:
            detail = str(exc).replace(self.endpoint.api_key, "***") if self.endpoint.api_key else str(exc)
            raise LLMError(f"{self.endpoint.describe()}: {exc.__class__.__name__}: {detail}") from None
        if not resp.choices:
            raise LLMError(f"{self.endpoint.describe()}: empty response")
        return resp.choices[0].message.content or ""


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def parse_json(text: str) -> Any:
    """The first JSON object or array in a model reply (code fences and chatter around it allowed)."""
    m = _FENCE.search(text)
    if m:
        text = m.group(1)
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise ValueError("no JSON in the reply")
    start = min(starts)
    decoder = json.JSONDecoder()
    obj, _ = decoder.raw_decode(text[start:])
    return obj
