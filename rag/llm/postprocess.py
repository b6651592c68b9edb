"""What happens to generated text before the verifier: tidy it, take out non-answers, attribute.

The verifier judges claims; these steps make sure it is given claims. A small model puts
citations first ("[1] It is fast."), lists bare markers or numbers, repeats a source title, or
states a supported fact without any [n]. None of this changes what a sentence claims.
"""

from __future__ import annotations

import re

from rag.lexical import content_stems
from rag.llm.prompts import NO_ANSWER
from rag.models import Passage, SentenceCheck
from rag.text import split_sentences
from rag.verify import verify_answer

_MARKERS = re.compile(r"^\s*((?:\[\d+(?:\s*,\s*\d+)*\]\s*)+)(.*)$", re.S)
_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
# Words that make a sentence look like an answer without saying anything ("The answer is: [1].").
_FILLER = frozenset(content_stems("answer answers question questions source sources abstract papers"))
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_DECLINE_CUES = (
    "sources do not answer",
    "sources do not contain",
    "sources don t answer",
    "sources don t contain",
)


def _norm(text: str) -> str:
    return _NON_ALNUM.sub(" ", text.lower()).strip()


def _markers_last(sentence: str) -> str:
    """'[1] It is fast.' -> 'It is fast [1].': small models put the citation first."""
    m = _MARKERS.match(sentence)
    if not m or not m.group(2).strip():
        return sentence
    marks, body = "".join(m.group(1).split()), m.group(2).strip()
    if body[-1] in ".!?":
        return f"{body[:-1].rstrip()} {marks}{body[-1]}"
    return f"{body} {marks}."


def pre_gate(text: str, sources: list[Passage]) -> tuple[str, list[SentenceCheck], bool]:
    """Tidy generated text and take out what is not an answer before verification.

    Returns the text to verify, the sentences taken out (with the reason), and whether the model
    said the sources do not answer the question. Removed here: sentences with no content words
    ("[1] [2] [3]", "2 [1].", "The answer is: [1]."), a bare source title ("[1] A Survey of X"),
    and the no-answer sentence.
    """
    titles = {_norm(p.title) for p in sources}
    no_answer = _norm(NO_ANSWER)
    removed: list[SentenceCheck] = []
    declined = False
    paras: list[str] = []
    for para in re.split(r"\n\s*\n", text.strip()):
        sentences = [_markers_last(s) for line in para.splitlines() for s in split_sentences(line)]
        kept: list[str] = []
        for sentence in sentences:
            claim = _norm(_MARKER.sub(" ", sentence))
            reason = None
            if no_answer in claim or any(cue in claim for cue in _DECLINE_CUES):
                declined, reason = True, "the model said the sources do not answer the question"
            elif not set(content_stems(claim)) - _FILLER:
                reason = "says nothing: only citation markers, numbers or filler words"
            elif claim in titles:
                reason = "only repeats a source title"
            if reason:
                cites = [int(n) for g in _MARKER.findall(sentence) for n in re.findall(r"\d+", g)]
                removed.append(
                    SentenceCheck(text=sentence, citations=cites, supported=False, reasons=[reason])
                )
            else:
                kept.append(sentence)
        if kept:
            paras.append(" ".join(kept))
    return "\n\n".join(paras), removed, declined


def _cite_with(sentence: str, n: int) -> str:
    s = sentence.rstrip()
    if s and s[-1] in ".!?":
        return f"{s[:-1].rstrip()} [{n}]{s[-1]}"
    return f"{s} [{n}]."


def attribute(text: str, sources: list[Passage], min_support: float) -> tuple[str, int]:
    """Cite each sentence the model left uncited with the source that verifies it best.

    Small models often state a supported fact and forget the [n]. Each such sentence is tried
    against every source with the full verifier; the best-supported passing source is cited, and a
    sentence no source supports stays uncited (the gate then removes it). Sentences the model cited
    are left alone, right or wrong. Returns the text and how many sentences were attributed.
    """
    paras, attributed = [], 0
    for para in re.split(r"\n\s*\n", text.strip()):
        out = []
        for sentence in split_sentences(para):
            best: tuple[float, str] | None = None
            if not _MARKER.search(sentence):
                for n in range(1, len(sources) + 1):
                    candidate = _cite_with(sentence, n)
                    checks = verify_answer(candidate, sources, min_support).sentences
                    if checks and (best is None or checks[0].support > best[0]):
                        best = (checks[0].support, candidate)
            out.append(best[1] if best else sentence)
            attributed += best is not None
        paras.append(" ".join(out))
    return "\n\n".join(p for p in paras if p), attributed
