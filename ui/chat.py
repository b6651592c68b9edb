"""One chat turn, independent of Gradio: condense the follow-up, stream the answer, render it.

`run_turn` is a generator of `TurnView`s so the Gradio handler only maps them onto components,
and tests can drive it with a fake `ask_stream`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from rag.conversation import condense
from rag.errors import QuestionError, RagError
from rag.models import Answer, Filters, Preview, Sources
from rag.settings import Settings
from ui.format import (
    SEARCHING,
    SEARCHING_DONE,
    escape_md,
    format_answer,
    format_error,
    format_in_progress,
    format_removed,
    removed_title,
    render_retrieved,
    render_sources,
)

log = logging.getLogger(__name__)
Message = dict
AskStream = Callable[..., Iterator["str | Answer"]]


Turn = tuple[str, Answer]  # (question as typed, answer to its standalone form)


@dataclass
class TurnView:
    """What the page shows after each step of a turn (a snapshot: later steps don't alter it)."""

    messages: list[Message]
    turns: list[Turn]
    sources_html: str


def parse_date(text: str | None, label: str) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise QuestionError(f"{label} '{text}' is not a date: use YYYY-MM-DD, or leave it empty") from None


def parse_filters(date_from: str | None, date_to: str | None, sources: list[str] | None) -> Filters | None:
    """Filters from the settings accordion; None when nothing is set."""
    filters = Filters(
        date_from=parse_date(date_from, "'from' date"),
        date_to=parse_date(date_to, "'to' date"),
        sources=list(sources) if sources else None,
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise QuestionError("the 'from' date is after the 'to' date: swap them")
    return None if filters.is_empty() else filters


def run_turn(
    question: str,
    messages: list[Message],
    turns: list[Turn],
    *,
    settings: Settings,
    ask_stream: AskStream,
    k: int | None = None,
    mode: str | None = None,
    filters: Filters | None = None,
    answer_mode: str | None = None,
) -> Iterator[TurnView]:
    """Append the user's question, stream the answer into the last message, then finalise it.

    Errors end the turn as a one-line chat message; the history of turns only grows on success,
    so a failed turn never becomes the context of a follow-up.
    """
    shown = {"role": "user", "content": escape_md(question)}  # the question as typed, not as Markdown
    messages = [*messages, shown, {"role": "assistant", "content": SEARCHING}]
    turns = list(turns)
    sources_html = render_sources(turns)
    yield TurnView(list(messages), list(turns), sources_html)
    turn = len(turns)
    try:
        standalone = condense(question, [answer for _, answer in turns])
        text, preview = "", None
        final: Answer | None = None
        stream = ask_stream(standalone, k=k, filters=filters, mode=mode, settings=settings, answer_mode=answer_mode)
        for item in stream:
            if isinstance(item, Answer):
                final = item
                break
            if isinstance(item, Sources):  # evidence first: the retrieved papers, before any answer
                sources_html = render_retrieved(turns, item.passages, asked=question)
                messages[-1] = {"role": "assistant", "content": SEARCHING_DONE}
            elif isinstance(item, Preview):
                preview = item.answer
                messages[-1] = {"role": "assistant", "content": format_in_progress(preview, turn, text)}
            else:
                text += item
                messages[-1] = {"role": "assistant", "content": format_in_progress(preview, turn, text)}
            yield TurnView(list(messages), list(turns), sources_html)
        if final is None:
            raise RagError("the answerer stopped without an answer: try again")
    except RagError as exc:
        messages[-1] = {"role": "assistant", "content": format_error(exc)}
        yield TurnView(list(messages), list(turns), sources_html)
        return
    except Exception as exc:  # a bug or a dead dependency: log it, show one line, keep the chat usable
        log.exception("chat turn failed")
        messages[-1] = {"role": "assistant", "content": format_error(RuntimeError(f"internal error: {exc}"))}
        yield TurnView(list(messages), list(turns), sources_html)
        return
    messages[-1] = {"role": "assistant", "content": format_answer(final, turn, asked=question)}
    if final.removed:
        messages.append(
            {
                "role": "assistant",
                "content": format_removed(final.removed),
                "metadata": {"title": removed_title(final.removed), "status": "done"},
            }
        )
    turns.append((question, final))
    yield TurnView(list(messages), list(turns), render_sources(turns))
