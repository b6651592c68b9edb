"""Answerers: extractive (quoted sentences) and llm (generated, then verified), behind one interface.

`ask()` / `ask_stream()` pick one with `answerer_for(mode, settings)`; nothing else inlines one.
"""

from __future__ import annotations

from rag.answerers.base import Answerer
from rag.errors import ConfigError
from rag.settings import Settings

__all__ = ["Answerer", "answer_mode", "answerer_for"]


def answer_mode(settings: Settings, requested: str | None = None) -> str:
    """extractive or llm; auto means llm when an OpenAI-compatible endpoint or key is configured."""
    chosen = requested or settings.answer.mode
    if chosen == "auto":
        from rag.llm import remote_configured

        return "llm" if remote_configured(settings) else "extractive"
    if chosen not in ("extractive", "llm"):
        raise ConfigError(f"answer mode {chosen!r} is unknown: use extractive, llm or auto")
    return chosen


def answerer_for(mode: str | None, settings: Settings) -> Answerer:
    if answer_mode(settings, mode) == "llm":
        from rag.answerers.llm import LLMAnswerer  # the extractive path needs no LLM client

        return LLMAnswerer(settings)
    from rag.answerers.extractive import ExtractiveAnswerer

    return ExtractiveAnswerer(settings)
