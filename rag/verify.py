"""Citation verification: no answer sentence reaches the user unchecked.

Every sentence must cite at least one listed source; every number and every named method or
acronym in it must occur in a source it cites; and enough of its content words must be found in
the cited sources. Failing sentences are removed (and reported), and the surviving citations are
renumbered in order of first use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.lexical import content_stems
from rag.models import Citation, Passage, SentenceCheck
from rag.text import split_sentences

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])")
# Named things: acronyms (LZN, CIFAR10), CamelCase (MTLoRA, BioBERT), hyphenated names with caps.
_NAMED = re.compile(r"\b(?:[A-Z][a-z]*[A-Z][\w-]*|[A-Z]{2,}[\w-]*|\w*\d\w*[A-Z]\w*)\b")
DEFAULT_MIN_SUPPORT = 0.5


def citations_in(sentence: str) -> list[int]:
    nums: list[int] = []
    for group in _MARKER.findall(sentence):
        for n in group.split(","):
            if int(n) not in nums:
                nums.append(int(n))
    return nums


def strip_markers(sentence: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", sentence)).strip()


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def source_text(p: Passage) -> str:
    return f"{p.title}\n{p.text}"


def check_sentence(
    sentence: str, sources: list[Passage], min_support: float = DEFAULT_MIN_SUPPORT
) -> SentenceCheck:
    cites = citations_in(sentence)
    claim = strip_markers(sentence)
    reasons: list[str] = []
    if not cites:
        reasons.append("no citation")
    bad = [n for n in cites if not 1 <= n <= len(sources)]
    if bad:
        reasons.append(f"cites [{', '.join(map(str, bad))}], which is not a listed source")
    cited = [source_text(sources[n - 1]) for n in cites if 1 <= n <= len(sources)]
    support = 0.0
    if cited:
        joined = "\n".join(cited)
        missing = sorted(_numbers(claim) - _numbers(joined))
        if missing:
            reasons.append(f"number(s) {', '.join(missing)} not in the cited source")
        low = joined.lower()
        unnamed = sorted({m for m in _NAMED.findall(claim) if m.lower() not in low})
        if unnamed:
            reasons.append(f"name(s) {', '.join(unnamed)} not in the cited source")
        words = content_stems(claim)
        if words:
            have = set(content_stems(joined))
            support = sum(w in have for w in words) / len(words)
            if support < min_support:
                reasons.append(f"only {support:.0%} of its words are in the cited source")
        else:
            support = 1.0
    return SentenceCheck(
        text=sentence, citations=cites, supported=not reasons, reasons=reasons, support=round(support, 3)
    )


@dataclass
class Verified:
    """The answer after the gate: kept sentences renumbered, with their citations."""

    text: str
    citations: list[Citation]
    sentences: list[SentenceCheck]
    removed: list[SentenceCheck] = field(default_factory=list)


def _renumber(sentence: str, mapping: dict[int, int]) -> str:
    def sub(m: re.Match) -> str:
        nums = [mapping[int(n)] for n in m.group(1).split(",") if int(n) in mapping]
        return "[" + ", ".join(map(str, sorted(set(nums)))) + "]" if nums else ""

    return _MARKER.sub(sub, sentence)


def verify_answer(
    text: str, sources: list[Passage], min_support: float = DEFAULT_MIN_SUPPORT
) -> Verified:
    """Check each sentence; drop unsupported ones; renumber citations by first use.

    Paragraph breaks in `text` are kept. Citations refer to `sources` (1-based) on input and to
    the returned `citations` list on output.
    """
    kept: list[list[SentenceCheck]] = []
    removed: list[SentenceCheck] = []
    for para in re.split(r"\n\s*\n", text.strip()):
        checks = [check_sentence(s, sources, min_support) for s in split_sentences(para)]
        removed.extend(c for c in checks if not c.supported)
        good = [c for c in checks if c.supported]
        if good:
            kept.append(good)

    mapping: dict[int, int] = {}
    for para in kept:
        for c in para:
            for n in c.citations:
                mapping.setdefault(n, len(mapping) + 1)
    citations = [
        Citation(
            number=new,
            paper_id=sources[old - 1].paper_id,
            title=sources[old - 1].title,
            passage=sources[old - 1].text,
            score=sources[old - 1].score,
        )
        for old, new in mapping.items()
    ]
    out_paras, checks = [], []
    for para in kept:
        renumbered = []
        for c in para:
            new = _renumber(c.text, mapping)
            renumbered.append(new)
            checks.append(c.model_copy(update={"text": new, "citations": citations_in(new)}))
        out_paras.append(" ".join(renumbered))
    return Verified("\n\n".join(out_paras), citations, checks, removed)
