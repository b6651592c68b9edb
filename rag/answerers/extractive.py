"""The extractive answerer: quoted abstract sentences with citations (rag.extractive), verified."""

from __future__ import annotations

import time

from rag.answerers.base import Answerer, Events
from rag.models import Passage
from rag.verify import answer_from, verify_answer


class ExtractiveAnswerer(Answerer):
    kind = "extractive"

    def stream(self, question: str, passages: list[Passage], timings: dict[str, float]) -> Events:
        t0 = time.perf_counter() - timings.get("retrieve", 0.0)
        draft = self.evidence(question, passages, timings)
        t = time.perf_counter()
        verified = verify_answer(draft.text, passages) if draft.text else None
        timings["verify"] = round(time.perf_counter() - t, 4)
        timings["total"] = round(time.perf_counter() - t0, 4)
        answer = answer_from(
            question, passages, verified, mode=self.kind, confidence=round(draft.confidence, 4), timings=timings
        )
        if answer.abstained:
            answer = answer.model_copy(update={"text": draft.abstain_text})  # says why, where it can
        yield answer
