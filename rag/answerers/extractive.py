"""The extractive answerer: quoted abstract sentences with citations (rag.extractive), verified; with
answer.model_check, read by the local model (rag.llm.check), which withholds quotes that do not answer."""

from __future__ import annotations

import logging
import time

from rag.abstain import asks_detail
from rag.answerers.base import Answerer, Events
from rag.errors import LLMError, ModelUnavailableError
from rag.models import ABSTAIN_TEXT, NOT_ANSWERED_TEXT, Answer, Passage
from rag.verify import answer_from, verify_answer

log = logging.getLogger(__name__)


class ExtractiveAnswerer(Answerer):
    kind = "extractive"

    def stream(self, question: str, passages: list[Passage], timings: dict[str, float]) -> Events:
        t0 = time.perf_counter() - timings.get("retrieve", 0.0)
        cfg = self.settings.answer
        draft = self.evidence(
            question, passages, timings, cfg.model_check_evidence_threshold if cfg.model_check else None
        )
        t = time.perf_counter()
        verified = verify_answer(draft.text, passages) if draft.text else None
        timings["verify"] = round(time.perf_counter() - t, 4)
        answer = answer_from(
            question, passages, verified, mode=self.kind, confidence=round(draft.confidence, 4), timings=timings
        )
        if answer.abstained:
            answer = answer.model_copy(update={"text": draft.abstain_text})  # says why, where it can
        elif cfg.model_check:
            answer = self._checked(question, answer, passages, timings)
        timings["total"] = round(time.perf_counter() - t0, 4)
        yield answer.model_copy(update={"timings": timings})

    def _checked(self, question: str, answer: Answer, passages: list[Passage], timings: dict[str, float]) -> Answer:
        """The answer, or an abstention when the local model finds no answer in what it reads."""
        from rag.llm.check import p_answers, reading

        read = reading(self.settings, answer.text, passages)  # the same text for both of the model's checks
        t = time.perf_counter()
        try:
            p = round(p_answers(self.settings, question, read), 4)
        except (LLMError, ModelUnavailableError) as exc:
            log.warning("answer check failed, answering unchecked: %s", exc)
            if answer.confidence < self.settings.answer.abstain_threshold:  # unchecked: the stricter bar
                notice = f"the local model could not check the closest passages ({exc}); the evidence alone is too weak"
                return _withheld(answer, ABSTAIN_TEXT, notices=[*answer.notices, notice])
            notice = f"the local model could not check this answer ({exc}); it is shown unchecked"
            return answer.model_copy(update={"notices": [*answer.notices, notice]})
        finally:
            timings["check"] = round(time.perf_counter() - t, 4)
        if p < self.settings.answer.model_check_threshold:
            return _withheld(answer, NOT_ANSWERED_TEXT, check=p)
        answer = answer.model_copy(update={"check": p})
        if self.settings.answer.model_check_reply and asks_detail(question):
            return self._replied(question, answer, read, timings)
        return answer

    def _replied(self, question: str, answer: Answer, read: str, timings: dict[str, float]) -> Answer:
        """The answer, or an abstention when the local model's own short answer says `read` lacks it."""
        from rag.llm.check import model_reply, reply_withholds

        t = time.perf_counter()
        try:
            reply, cut = model_reply(self.settings, question, read)
        except (LLMError, ModelUnavailableError) as exc:
            log.warning("answer check reply failed, answering on the first check: %s", exc)
            return answer.model_copy(
                update={"notices": [*answer.notices, f"the local model's own answer failed ({exc})"]}
            )
        finally:
            timings["check_reply"] = round(time.perf_counter() - t, 4)
        answer = answer.model_copy(update={"check_reply": reply})
        return _withheld(answer, NOT_ANSWERED_TEXT) if reply_withholds(reply, cut, read) else answer


def _withheld(answer: Answer, text: str, **update) -> Answer:
    """An abstention in place of `answer`, its quotes kept in `draft` for the reader to inspect."""
    return answer.model_copy(
        update={"text": text, "abstained": True, "citations": [], "sentences": [], "draft": answer.text, **update}
    )
