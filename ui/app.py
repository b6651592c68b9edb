"""The Gradio app: a chat over the abstracts with a sources panel, and a Corpus tab.

A thin layer over the public API (`rag.ask_stream`, `rag.ingest`, `rag.stats`) and
`rag.conversation.condense`; rendering lives in ui/format.py, one chat turn in ui/chat.py,
event handlers in ui/handlers.py. This file is layout and wiring only.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home: the app is offline

from typing import Any  # noqa: E402

import gradio as gr  # noqa: E402

from rag.settings import Settings  # noqa: E402
from ui.assets import CSS, HEAD  # noqa: E402
from ui.corpus import UPLOAD_TYPES  # noqa: E402
from ui.format import EMPTY_SOURCES  # noqa: E402
from ui.handlers import Handlers  # noqa: E402

EXAMPLES = [
    "Which papers make linear attention fast on GPUs, and how?",
    "How is CLIP adapted to remote sensing images?",
    "When Latent Zoning Network is plugged into a Rectified Flow model, what happens to the FID on CIFAR10?",
    "Which paper combines knowledge distillation with contrastive learning for 3D point clouds?",
]
INTRO = (
    "Ask about the research-paper abstracts in the index. Answers quote the abstracts with numbered "
    "citations (click **[n]** to see the passage) and say so when the abstracts don't answer. "
    "Follow-ups such as *“and which of those …?”* build on the previous answer."
)
EMPTY_INDEX = (
    "**The index is empty.** Add the bundled abstracts (371 papers, about a minute) with the button, "
    "upload your own files in the **Corpus** tab, or run `rag ingest` in a terminal."
)
# Chat answers run two at a time (all three ways of asking share one "chat" queue); ingests stay one
# at a time ("ingest"). Measured with scripts/load_ui.py (8 sessions x 30 s, bundled corpus, extractive,
# interleaved pairs on a 2-core machine busy with other work), limit 1 -> 2: throughput 51/37/34 ->
# 60/42/47 answers/min and p95 9.2/14.1/14.7 -> 8.7/12.5/11.2 s reading from Chroma; 62/62 -> 72/71
# answers/min and p95 8.4/8.2 -> 7.7/7.6 s reading from the published view. Answering one at a time,
# the UI process used 0.6-0.9 of a core (much of an answer is single-threaded Python), so a second
# answer has a core to run on. Two also keeps a slow generated answer (the local model
# writes one answer at a time, behind its own lock) from holding every quoted answer in line. More than
# two competes for the same two cores and raises peak memory (reading from Chroma, one run at 4: 1570 MB;
# the runs at 1 to 3 peaked at 1080-1430 MB RSS).
CHAT_CONCURRENCY = 2
THEME = gr.themes.Soft(
    primary_hue="blue",
    font=["ui-sans-serif", "system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
)


def answer_default(settings: Settings) -> str:
    """The answer mode the page starts with: the configured one (auto resolved)."""
    from rag.answerers import answer_mode

    return answer_mode(settings)


def _chat_tab(settings: Settings) -> dict[str, Any]:
    c: dict[str, Any] = {}
    with gr.Group(visible=False, elem_id="rag-banner") as c["banner"]:
        gr.Markdown(EMPTY_INDEX)
        c["bundled_btn"] = gr.Button("Ingest the bundled corpus", variant="primary", size="sm")
        c["banner_report"] = gr.Markdown(min_height=60)  # room for the progress bar
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            c["chatbot"] = gr.Chatbot(
                label="Answers",
                show_label=False,
                height=560,
                examples=[{"text": q} for q in EXAMPLES],
                placeholder="**Ask a question about the papers**, or pick an example below.",
                buttons=["copy"],
                feedback_options=None,
                layout="panel",
                latex_delimiters=[],  # abstracts' "$" is text; no KaTeX pass over corpus strings
                elem_id="rag-chat",
            )
            with gr.Row():
                c["box"] = gr.Textbox(
                    placeholder="Ask about the papers…  (Enter to send)",
                    show_label=False,
                    scale=5,
                    lines=1,
                    max_lines=4,
                    elem_id="rag-question",
                    autofocus=True,
                )
                c["send"] = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="rag-send")
                c["new_chat"] = gr.Button("New chat", scale=1, min_width=80)
            with gr.Accordion("Retrieval settings", open=False, elem_id="rag-settings"):
                with gr.Row():
                    c["k"] = gr.Slider(
                        1, 20, value=settings.retrieval.k, step=1, label="Papers to retrieve (k)"
                    )
                    c["mode"] = gr.Radio(
                        ["hybrid", "dense", "bm25"],
                        value=settings.retrieval.mode,
                        label="Retrieval mode",
                        info="hybrid fuses embedding similarity and BM25 keywords",
                    )
                c["answer_mode"] = gr.Radio(
                    [("generated by the local model, verified", "llm"), ("quoted from the abstracts", "extractive")],
                    value=answer_default(settings),
                    label="Answer",
                    info="Generated answers show the quoted evidence first, then the verified answer",
                    elem_id="rag-answer-mode",
                )
                with gr.Row():
                    c["date_from"] = gr.Textbox(
                        label="Papers from", placeholder="YYYY-MM-DD", elem_id="rag-from"
                    )
                    c["date_to"] = gr.Textbox(
                        label="Papers until", placeholder="YYYY-MM-DD", elem_id="rag-to"
                    )
                c["source_files"] = gr.Dropdown(
                    [], value=[], multiselect=True, label="Only papers from these files (empty: all)"
                )
        with gr.Column(scale=2, min_width=320, elem_id="rag-side"):
            gr.Markdown("### Sources")
            c["sources_panel"] = gr.HTML(EMPTY_SOURCES, elem_id="rag-sources", js_on_load=None)
    return c


def _corpus_tab(settings: Settings) -> dict[str, Any]:
    c: dict[str, Any] = {}
    c["stats"] = gr.Markdown(elem_id="rag-stats")
    limit = f"{settings.ui.max_upload_mb:g} MB"
    gr.Markdown("### Add abstracts")
    with gr.Row():
        with gr.Column(scale=3):
            c["uploads"] = gr.File(
                label=f"Abstract files ({', '.join(UPLOAD_TYPES)}; up to {limit} each)",
                file_count="multiple",
                file_types=UPLOAD_TYPES,
                elem_id="rag-upload",
            )
        with gr.Column(scale=2):
            c["ingest_btn"] = gr.Button("Add to index", variant="primary", elem_id="rag-ingest")
            gr.Markdown(
                "Papers are recognised by title: unchanged ones are skipped, changed ones updated. "
                "Uploads are kept in the data directory under `uploads/`."
            )
    c["report"] = gr.Markdown(elem_id="rag-report", min_height=60)  # room for the progress bar
    return c


def build_app(settings: Settings) -> gr.Blocks:
    """The whole page; `settings` choose the index, the retrieval defaults and the upload limit."""
    h = Handlers(settings)
    with gr.Blocks(title="Ask the abstracts", analytics_enabled=False) as demo:
        messages, turns, pending = gr.State([]), gr.State([]), gr.State("")
        gr.Markdown("## Ask the abstracts\n" + INTRO)
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chat = _chat_tab(settings)
            with gr.Tab("Corpus", id="corpus", elem_id="rag-corpus-tab"):
                corpus = _corpus_tab(settings)

        inputs = [pending, messages, turns, chat["k"], chat["mode"], chat["date_from"], chat["date_to"],
                  chat["source_files"], chat["answer_mode"]]
        outputs = [chat["chatbot"], messages, turns, chat["sources_panel"]]
        answering = {"concurrency_id": "chat", "concurrency_limit": CHAT_CONCURRENCY}
        for trigger in (chat["box"].submit, chat["send"].click):
            taken = trigger(h.take, [chat["box"]], [chat["box"], pending], queue=False)
            taken.then(h.respond, inputs, outputs, **answering)
        chat["chatbot"].example_select(h.take_example, None, [pending], queue=False).then(
            h.respond, inputs, outputs, **answering
        )
        chat["new_chat"].click(h.clear, None, outputs, queue=False)

        refreshed = [chat["banner"], corpus["stats"], chat["source_files"]]
        corpus["ingest_btn"].click(
            h.ingest_files, [corpus["uploads"]], [corpus["report"]], concurrency_id="ingest"
        ).then(h.refresh, None, refreshed).then(lambda: None, None, [corpus["uploads"]])
        chat["bundled_btn"].click(
            h.ingest_bundled, None, [chat["banner_report"]], concurrency_id="ingest"
        ).then(h.refresh, None, refreshed)
        demo.load(h.refresh, None, refreshed)
    return demo


def launch_kwargs(settings: Settings) -> dict[str, Any]:
    """Arguments of `Blocks.launch` that belong to the page (Gradio 6 takes theme/css/head there)."""
    return {
        "theme": THEME,
        "css": CSS,
        "head": HEAD,
        "max_file_size": f"{settings.ui.max_upload_mb:g}mb",
        "footer_links": ["settings"],
        "share": False,  # never a public *.gradio.live link
        "ssr_mode": False,  # no Node server: plain client-side rendering
        "show_error": False,
    }


def launch(
    settings: Settings,
    host: str,
    port: int,
    *,
    auth: tuple[str, str] | None = None,
    block: bool = True,
    quiet: bool = False,
) -> gr.Blocks:
    """Serve the app; with `block=False` it returns at once and the caller `.close()`s it (tests)."""
    demo = build_app(settings)
    # Open the store once before Gradio's worker threads can, so two first questions never initialise
    # it together. While readers used Chroma's embedded client (before the published view), that raced:
    # chromadb caches one system per folder and publishes it before starting it. Without this line,
    # 3 of 4 fresh servers failed 1-3 of the first questions of 4 simultaneous sessions ("internal
    # error: 'RustBindingsAPI' object has no attribute 'bindings'"); with it, 0 of 9. A missing index
    # is fine here (the page says what to do).
    Handlers(settings).corpus_state()
    demo.queue(default_concurrency_limit=1)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        prevent_thread_lock=not block,
        quiet=quiet,
        inbrowser=False,
        **launch_kwargs(settings),
    )
    return demo
