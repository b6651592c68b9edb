"""Token budget: fit the numbered sources into the context window next to the prompt and the answer.

Sources arrive best first. They are added while the whole rendered prompt still fits
`n_ctx - max_tokens - margin`; the first one that does not fit is trimmed to the room left (when
that leaves a useful piece) and every lower-ranked one is dropped. Counting the rendered prompt
(not the sources alone) means the template, the question and the numbering are all paid for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.errors import QuestionError
from rag.llm.base import Prompt
from rag.models import Passage

SAFETY_MARGIN = 16  # tokens kept free for BOS/EOS and template details the counter cannot see
MIN_TRIMMED_WORDS = 20  # a trimmed source shorter than this is not worth its slot
ELLIPSIS = " ..."


@dataclass
class Packed:
    prompt: Prompt
    sources: list[Passage]  # what the model sees as [1], [2]...: best first, the last maybe trimmed
    prompt_tokens: int
    dropped: int  # sources left out entirely
    trimmed: bool  # the last kept source was cut short


def _fits(build: Callable[[list[Passage]], Prompt], count: Callable[[Prompt], int], limit: int):
    def check(sources: list[Passage]) -> int | None:
        n = count(build(sources))
        return n if n <= limit else None

    return check


def _trim(p: Passage, fits: Callable[[Passage], bool]) -> Passage | None:
    """The longest word prefix of `p` that fits, or None if fewer than MIN_TRIMMED_WORDS do."""
    words = p.text.split()
    lo, hi = 0, len(words) - 1  # the whole passage is known not to fit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(p.model_copy(update={"text": " ".join(words[:mid]) + ELLIPSIS})):
            lo = mid
        else:
            hi = mid - 1
    if lo < min(MIN_TRIMMED_WORDS, len(words)):
        return None
    return p.model_copy(update={"text": " ".join(words[:lo]) + ELLIPSIS})


def pack_sources(
    passages: Sequence[Passage],
    build: Callable[[list[Passage]], Prompt],
    count: Callable[[Prompt], int],
    n_ctx: int,
    max_tokens: int,
) -> Packed:
    """Best-first sources that fit; raises QuestionError if not even the bare prompt fits."""
    limit = n_ctx - max_tokens - SAFETY_MARGIN
    fits = _fits(build, count, limit)
    bare = fits([])
    if bare is None:
        raise QuestionError(
            f"the question and instructions alone need {count(build([]))} tokens, more than the "
            f"{n_ctx}-token context leaves after the {max_tokens}-token answer budget: shorten the "
            "question, raise RAG_LLM__N_CTX or lower RAG_LLM__MAX_TOKENS"
        )
    kept: list[Passage] = []
    used, trimmed = bare, False
    for i, p in enumerate(passages):
        n = fits([*kept, p])
        if n is not None:
            kept.append(p)
            used = n
            continue
        cut = _trim(p, lambda q: fits([*kept, q]) is not None)
        if cut is not None:
            kept.append(cut)
            used, trimmed = fits(kept) or used, True
        dropped = len(passages) - i - (1 if cut is not None else 0)
        return Packed(build(kept), kept, used, dropped, trimmed)
    return Packed(build(kept), kept, used, 0, False)
