"""Generated answers: an LLM reads the best evidence sentences and writes a cited answer; a gate keeps
only the sentences the cited abstracts support.

Order of events, so the reader is never kept waiting with nothing:
1. evidence: every sentence of the retrieved abstracts scored (rag.extractive). Below
   `answer.llm_abstain_threshold`, or when a quantity question's top papers state no figure for it
   (`answer.figure_check_papers`), the answer abstains without asking the model.
2. a `Preview`: the verified extractive answer, shown while the model writes.
3. the model's text, streamed as it is generated (unverified).
4. the final `Answer`: the generated sentences that pass the verifier (rag.verify), renumbered.
   The model saying the sources don't answer -> an abstention, unless the evidence score is at
   least `answer.llm_decline_override` (the quoted answer instead, with a notice: the small local
   model declines answerable questions). Nothing generated survives -> `answer.llm_unsupported`
   decides: abstain, or fall back to the extractive answer.
If the model cannot run (missing model part, dead server, timeout) the answer is the extractive
one, with a notice that says why: the reader still gets cited evidence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace

from rag.answerers.base import Answerer, Events
from rag.errors import LLMError, ModelUnavailableError
from rag.extractive import Draft
from rag.llm import ContextOverflowError, LLMBackend, backend_kind, get_backend
from rag.llm.evidence import EvidenceSource, build_prompt, select_evidence
from rag.llm.gguf import model_label
from rag.llm.postprocess import attribute_uncited, pre_gate
from rag.llm.stops import StopFilter
from rag.models import ABSTAIN_TEXT, Answer, Passage, Preview
from rag.verify import answer_from, verify_answer

log = logging.getLogger(__name__)

FALLBACK_MODE = "extractive-fallback"
OVERFLOW_RETRIES = 2  # a server that counts tokens differently: shrink the evidence and retry
OVERFLOW_SHRINK = 0.6


def backend_label(settings) -> str:
    """Answer.mode of the configured LLM, without loading it (used when abstaining early)."""
    if backend_kind(settings) == "openai":
        return f"llm:openai:{settings.llm.model}"
    return f"llm:llamacpp:{model_label(settings)}"


class LLMAnswerer(Answerer):
    kind = "llm"

    def stream(self, question: str, passages: list[Passage], timings: dict[str, float]) -> Events:
        t0 = time.perf_counter() - timings.get("retrieve", 0.0)
        cfg = self.settings.answer
        draft = self.evidence(question, passages, timings)
        confidence = round(draft.confidence, 4)

        def finish(**fields) -> Answer:
            timings["total"] = round(time.perf_counter() - t0, 4)
            base = {"question": question, "sources": passages, "confidence": confidence, "timings": timings}
            return Answer(**{**base, **fields})

        if not passages or draft.confidence < cfg.llm_abstain_threshold or draft.decided:
            yield finish(text=draft.abstain_text, abstained=True, mode=backend_label(self.settings))
            return

        t = time.perf_counter()
        verified = verify_answer(draft.text, passages) if draft.text else None
        preview = answer_from(question, passages, verified, mode=FALLBACK_MODE, confidence=confidence, timings={})
        timings["preview"] = round(time.perf_counter() - t, 4)
        if not preview.abstained:
            yield Preview(answer=preview)

        def fallback(notice: str | None, removed=None, raw: str | None = None) -> Answer:
            return finish(
                text=preview.text,
                abstained=preview.abstained,
                citations=preview.citations,
                sentences=preview.sentences,
                mode=FALLBACK_MODE,
                removed=removed or [],
                notices=[notice] if notice else [],
                draft=raw,
            )

        parts: list[str] = []
        try:
            t = time.perf_counter()
            backend = get_backend(self.settings)
            timings["load"] = round(time.perf_counter() - t, 4)
            sources: list[EvidenceSource] = []
            for item in self._generate(question, draft, passages, backend, timings, t0):
                if isinstance(item, list):
                    sources = item
                else:
                    parts.append(item)
                    yield item
        except (LLMError, ModelUnavailableError) as exc:
            log.warning("LLM answer failed, showing the extractive answer: %s", exc)
            what = "the local model" if backend_kind(self.settings) == "llamacpp" else "the LLM server"
            yield fallback(f"{what} could not answer ({exc}); this is the extractive answer instead")
            return

        t = time.perf_counter()
        raw = "".join(parts)
        cited = [s.passage for s in sources]
        text, removed, declined = pre_gate(raw, cited)
        if text and cfg.llm_attribute:
            text, _ = attribute_uncited(text, cited, cfg.llm_min_support)
        checked = verify_answer(text, cited, min_support=cfg.llm_min_support) if text else None
        if checked is not None:
            removed += checked.removed
        timings["verify"] = round(time.perf_counter() - t, 4)
        if checked is not None and checked.citations:
            yield finish(
                text=checked.text,
                citations=checked.citations,
                sentences=checked.sentences,
                mode=backend.name,
                removed=removed,
                draft=raw,
            )
            return
        if declined and not preview.abstained and draft.confidence >= cfg.llm_decline_override:
            notice = (
                "the model found no answer in the evidence it was shown, but the abstracts match the question "
                "closely: these are their sentences closest to it"
            )
            yield fallback(notice, removed, raw)
            return
        if declined or cfg.llm_unsupported == "abstain" or preview.abstained:
            yield finish(text=ABSTAIN_TEXT, abstained=True, mode=backend.name, removed=removed, draft=raw)
            return
        yield fallback(None, removed, raw)

    def _generate(
        self,
        question: str,
        draft: Draft,
        passages: list[Passage],
        backend: LLMBackend,
        timings: dict[str, float],
        t0: float,
    ) -> Iterator[str | list[EvidenceSource]]:
        """Yield the evidence sources the prompt numbers, then text deltas as the model writes them."""
        cfg, max_tokens = self.settings.answer, self.settings.llm.max_tokens
        budget = cfg.evidence_tokens
        for attempt in range(OVERFLOW_RETRIES + 1):
            t = time.perf_counter()
            sources = select_evidence(
                draft.scored, passages, backend.count_tokens, budget, cfg.evidence_per_paper, draft.ranked
            )
            prompt = build_prompt(question, sources, grammar=cfg.llm_grammar)
            room = backend.context_window - max_tokens - backend.prompt_tokens(prompt)
            if room < 0:  # a small context window: give up evidence, not the answer budget
                budget = max(64, budget + room)
                sources = select_evidence(
                    draft.scored, passages, backend.count_tokens, budget, cfg.evidence_per_paper, draft.ranked
                )
                prompt = build_prompt(question, sources, grammar=cfg.llm_grammar)
            timings["prompt"] = round(time.perf_counter() - t, 4)
            yield sources
            stops = StopFilter(prompt.stop if backend.api == "completion" else [])
            if stops.stops:  # completion stops are applied on our side, after leading blank lines
                prompt = replace(prompt, stop=[])
            produced = False
            t = time.perf_counter()
            try:
                for delta in backend.stream(prompt, max_tokens):
                    if not produced:
                        timings["first_token"] = round(time.perf_counter() - t0, 4)
                        produced = True
                    if text := stops.feed(delta):
                        yield text
                    if stops.done:
                        break  # closing the stream stops the model
                if rest := stops.flush():
                    yield rest
            except ContextOverflowError:
                if produced or attempt == OVERFLOW_RETRIES:
                    raise
                budget = int(budget * OVERFLOW_SHRINK)
                log.warning("context overflow at %s; retrying with %d evidence tokens", backend.name, budget)
                continue
            timings["generate"] = round(time.perf_counter() - t, 4)
            return
