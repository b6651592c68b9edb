"""What happens to generated text before the verifier: tidy it and take out non-answers.

The verifier judges claims; these steps make sure it is given claims. A small model puts
citations first ("[1] It is fast."), lists bare markers or numbers, repeats a source title, or
states a supported fact without any [n]. None of this changes what a sentence claims.
"""

from __future__ import annotations

import re

from rag.lexical import content_stems
from rag.llm.prompts import NO_ANSWER
from rag.models import Passage, SentenceCheck
from rag.text import cite, split_sentences, with_marker

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
    return with_marker(m.group(2).strip(), "".join(m.group(1).split()))


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


def attribute_uncited(text: str, sources: list[Passage], min_support: float) -> tuple[str, int]:
    """Give an uncited sentence the citation of its paragraph's next cited sentence (else the previous
    one) when the verifier finds it supported by that source; returns the text and how many were given.

    Why: the small local model copies two or three evidence sentences in a row and cites only the
    last (seen in eval/runs/answer_modes); the gate then drops the uncited ones although the abstract
    it cited says them. The citation is added only where the same check the gate applies passes, so
    nothing unsupported gets in; a sentence no neighbour's source supports stays uncited and is
    removed by the gate as before. Pieces of a source title ("AxBench: Steering LLMs?", split off
    a title at its question mark) are not claims and are left uncited.
    """
    from rag.verify import check_sentence, citations_in

    titles = [_norm(p.title) for p in sources]
    given = 0
    paras: list[str] = []
    for para in re.split(r"\n\s*\n", text.strip()):
        sentences = split_sentences(para)
        cites = [citations_in(s) for s in sentences]
        out: list[str] = []
        for i, sentence in enumerate(sentences):
            claim = _norm(sentence)
            if cites[i] or not claim or any(claim in t for t in titles):
                out.append(sentence)  # cited already, or a piece of a title split off as a sentence: no claim
                continue
            after = next((c for c in cites[i + 1 :] if c), None)
            before = next((c for c in reversed(cites[:i]) if c), None)
            chosen = sentence
            for candidate in (after, before):
                if not candidate:
                    continue
                cited = cite(sentence, candidate)
                if check_sentence(cited, sources, min_support).supported:
                    chosen = cited
                    given += 1
                    break
            out.append(chosen)
        paras.append(" ".join(out))
    return "\n\n".join(paras), given
