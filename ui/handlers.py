"""Event handlers of the page, bound to one Settings; plain functions of plain values.

Kept apart from the layout (ui/app.py) so they can be called directly in tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

import rag
from rag.errors import RagError
from rag.settings import Settings
from ui.chat import Turn, parse_filters, run_turn
from ui.corpus import UPLOAD_TYPES, check_uploads, format_report, format_stats, stage_uploads
from ui.format import EMPTY_SOURCES, escape_md, format_error

ChatUpdate = tuple[list[dict], list[dict], list[Turn], Any]


class Handlers:
    def __init__(self, settings: Settings):
        self.settings = settings

    # -- corpus ---------------------------------------------------------------------------
    def corpus_state(self) -> tuple[rag.Stats | None, str | None]:
        """Stats, or None and the reason (no index yet, store unreachable...)."""
        try:
            return rag.stats(settings=self.settings), None
        except RagError as exc:
            return None, str(exc)

    def refresh(self) -> tuple[Any, str, Any]:
        """Empty-index banner visibility, the Corpus tab counts, the source-file filter choices."""
        stats, problem = self.corpus_state()
        empty = stats is None or stats.papers == 0
        choices = sorted(stats.sources) if stats else []
        return gr.update(visible=empty), format_stats(stats, problem), gr.update(choices=choices)

    def ingest_files(
        self, files: list[str] | None, progress: gr.Progress = gr.Progress(track_tqdm=True)
    ) -> str:
        if not files:
            return "Choose one or more files first (" + ", ".join(UPLOAD_TYPES) + ")."
        checked = check_uploads(files, self.settings.ui.max_upload_mb)
        if not checked.accepted:
            return format_report(rag.IngestReport(), checked.problems)
        progress(0, desc="Reading and embedding abstracts")
        try:
            staged = stage_uploads(checked.accepted, self.settings.data_dir)
            report = rag.ingest(staged, progress=True, settings=self.settings)
        except (RagError, OSError) as exc:
            return format_error(exc)
        return format_report(report, checked.problems)

    def ingest_bundled(self, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> str:
        progress(0, desc="Embedding the bundled abstracts")
        try:
            report = rag.ingest(progress=True, settings=self.settings)
        except RagError as exc:
            return format_error(exc)
        return format_report(report)

    # -- chat -----------------------------------------------------------------------------
    @staticmethod
    def take(question: str) -> tuple[str, str]:
        """Clear the box at once and hand the question to `respond`."""
        return "", question

    @staticmethod
    def take_example(evt: gr.SelectData) -> str:
        value = evt.value
        return value.get("text", "") if isinstance(value, dict) else str(value)

    @staticmethod
    def clear() -> tuple[list, list, list, str]:
        return [], [], [], EMPTY_SOURCES

    def respond(
        self,
        question: str,
        messages: list[dict],
        turns: list[Turn],
        k: float,
        mode: str,
        date_from: str,
        date_to: str,
        sources: list[str] | None,
        answer_mode: str | None = None,
    ) -> Iterator[ChatUpdate]:
        """Stream one turn into (chatbot, messages state, turns state, sources panel)."""
        question = (question or "").strip()
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        try:
            filters = parse_filters(date_from, date_to, sources)
        except RagError as exc:
            shown = [
                *messages,
                {"role": "user", "content": escape_md(question)},
                {"role": "assistant", "content": format_error(exc)},
            ]
            yield shown, shown, turns, gr.skip()
            return
        for view in run_turn(
            question,
            messages,
            turns,
            settings=self.settings,
            ask_stream=rag.ask_stream,
            k=int(k),
            mode=mode,
            filters=filters,
            answer_mode=answer_mode or None,
        ):
            yield view.messages, view.messages, view.turns, view.sources_html
