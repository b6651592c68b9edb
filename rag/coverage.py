"""What an extractive answer must cover besides its best-matching sentences.

Three gaps seen on the tuning set (eval/gold.jsonl; eval/runs/compose/README.md), each closed by
one step after sentence selection:

- **the contribution's name**: "which paper speeds up sparse retrieval with blocks…" is answered by
  "Seismic", a word the question cannot contain, so the best-matching sentences leave it out
  (`coined_names`, `show_names`);
- **every part of the question**: "what reconstruction FID *and GenEval score*…" needs the second
  sentence too (`cover_question`);
- **every paper a plural question asks for**: "which papers…" gets one sentence (two when it also
  asks how) from each paper retrieval ranks close to the first (and its contribution sentence),
  not two sentences of the first one (`asks_many`, `plural_papers`, `select_many`).

Hand-written because no library recognises a coined name or a paper-listing question; the rules
and the three constants were chosen on the tuning set only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rag import abstain
from rag.lexical import STOPWORDS, content_stems

if TYPE_CHECKING:
    from rag.extractive import ScoredSentence
    from rag.models import Passage

_STOPWORDS = set(STOPWORDS)

# --- the contribution's name ---------------------------------------------------------------------
# A sentence that gives the contribution its name ("we propose X", "called X", "(ABC)"): a researcher
# asking which paper does something needs that name, which the question's own words rarely match.
_PAPER_DOES = (
    r"\b(?:this|our|the) (?:paper|work|thesis|study|article) (?:proposes|introduces|presents|reports|describes)\b"
)
_CALLED = r"\b(?:named|called|dubbed|termed|coined)\b"
_NAMING = re.compile(
    r"\bwe (?:propose|introduce|present|design|develop|curate|contribute|name|call|term|dub)\b"
    rf"|{_PAPER_DOES}|{_CALLED}"
    r"|\bour (?:method|approach|model|framework|system|benchmark|dataset),",
    re.I,
)
# An abbreviation in brackets ("(SLUNG)", "(BriLLM)", not "(training)") names a contribution only in a
# sentence about this paper: background sentences introduce abbreviations too ("… hard negative (HN)
# examples mined via BM25 or cross-encoders (CE)").
_ABBREV = re.compile(r"\((?=[^)]*[A-Z][^)]*[A-Z])[A-Za-z][\w-]{1,15}\)")
_OWN = re.compile(
    r"\b(?:we|our|here|this\s+(?:paper|work|study|article|thesis)|novel|new|proposed?|introduc\w*|present\w*)\b", re.I
)


def names_contribution(sentence: str) -> bool:
    """Whether a sentence introduces the paper's method, model or dataset (looser than coined_names:
    "we propose a novel organization of the inverted index" counts)."""
    return bool(_NAMING.search(sentence) or (_ABBREV.search(sentence) and _OWN.search(sentence)))


# A coined name is the word right after a naming cue ("named X", "we name our model as X", "our
# method, X,", "we propose X", "we present … (ABC)", a quoted "X" in such a sentence), spelled like a
# name or capitalised, rare in the corpus and not already in the question. Abbreviations of ordinary
# phrases ("the query likelihood (QL) model") are not introduced by a cue, so they do not count.
COINED_MAX_SHARE = 0.01  # a name in more than 1% of the chunks is vocabulary, not a coinage
_TOK = r"[A-Za-z0-9][\w^+.-]*[\w+]|[A-Z]"
_THING = (
    r"method|approach|model|framework|system|benchmark|dataset|mixture|algorithm|architecture|tool|library|"
    r"technique|pipeline|recipe|corpus"
)
_COINED = [
    re.compile(p, re.I)
    for p in (
        rf"\b(?:named|called|dubbed|termed|coined|nicknamed)\s+(?:as\s+|it\s+)?(?:the\s+)?[\"“']?(?P<n>{_TOK})",
        rf"\b(?:we|i)\s+(?:name|call|term|dub)\s+(?:it|this|them|our\s+\w+(?:\s+\w+)?)\s+(?:as\s+)?[\"“']?(?P<n>{_TOK})",
        rf"\b(?:our|a\s+new|a\s+novel|the\s+proposed)\s+(?:[\w-]+\s+){{0,2}}(?:{_THING}),?\s+(?P<n>{_TOK})",
        rf"\b(?:we|i)\s+(?:propose|introduce|present|design|develop|curate|contribute|release|build)\s+(?P<n>{_TOK})",
    )
]
_CUE = re.compile(
    r"\b(?:we|i) (?:propose|introduce|present|design|develop|curate|contribute|name|call|term|dub|release|build)\b"
    rf"|{_PAPER_DOES}|{_CALLED}",
    re.I,
)
_GLOSS = re.compile(rf"\((?P<n>{_TOK})\)|[\"“](?P<q>[A-Z][^\"”]{{1,30}})[\"”]")


def coined_names(sentence: str, question: str, df: dict[str, int], n_docs: int) -> list[str]:
    """The rare names this sentence gives a contribution ([] when it introduces none)."""
    found = [m["n"] for p in _COINED for m in p.finditer(sentence)]
    if _CUE.search(sentence):
        found += [m["n"] or m["q"] for m in _GLOSS.finditer(sentence)]
    asked = abstain.squash(question)
    out = []
    for name in found:
        name = name.rstrip(".")
        parts = re.split(r"[\s-]", name)
        if not (abstain.name_like(name) or name[:1].isupper()) or parts[0].lower() in _STOPWORDS:
            continue
        if len(parts) > 1 and parts[-1].islower():
            continue  # "LLM-based", "GPU-friendly": an adjective, not a name
        if abstain.squash(name) in asked or abstain.name_share(name, df, n_docs) > COINED_MAX_SHARE:
            continue
        out.append(name)
    return out


def show_names(
    question: str,
    chosen: list[ScoredSentence],
    scored: list[ScoredSentence],
    df: dict[str, int],
    n_docs: int,
    max_per_paper: int,
) -> list[ScoredSentence]:
    """Each answered paper also quotes the sentence that names its contribution, when one does and
    no quoted sentence mentions that name yet (it replaces the paper's weakest sentence at the cap).

    Not for quantity questions: their answer is a figure.
    """
    if abstain.quantity_focus(question) is not None:
        return chosen
    out = list(chosen)
    for src in dict.fromkeys(c.source for c in chosen):
        mine = [c for c in out if c.source == src]
        naming = {id(s): coined_names(s.text, question, df, n_docs) for s in scored if s.source == src}
        names = {n for found in naming.values() for n in found}
        if not names or any(n in c.text for c in mine for n in names):
            continue
        best = max((s for s in scored if naming.get(id(s))), key=lambda s: s.score)
        if len(mine) >= max_per_paper:
            weakest = min(mine, key=lambda c: c.score)
            out = [c for c in out if c is not weakest]
        out.append(best)
    return out


# --- every part of the question -------------------------------------------------------------------
# The top paper adds the sentence holding the most IDF mass of the question words that neither its
# title nor its quoted sentences contain, if that mass reaches COVER_MIN_GAIN (about one rare word
# or two middling ones; 2-4 tied on the tuning set, 6 lost a question).
COVER = True
COVER_MIN_GAIN = 4.0


def cover_question(
    question: str,
    chosen: list[ScoredSentence],
    scored: list[ScoredSentence],
    passages: list[Passage],
    df: dict[str, int],
    n_docs: int,
) -> list[ScoredSentence]:
    """The chosen sentences plus, from the top paper, the one covering most of what they leave out."""
    if not COVER or not chosen:
        return chosen
    top = max(chosen, key=lambda c: c.score).source
    seen = set(content_stems(passages[top].title)).union(*(content_stems(c.text) for c in chosen if c.source == top))
    missing = {w for w in content_stems(question) if w not in seen}
    if not missing:
        return chosen

    best, gain = None, 0.0
    for s in scored:
        if s.source != top or any(s is c for c in chosen):
            continue
        g = sum(abstain.idf(w, df, n_docs) for w in missing & set(content_stems(s.text)))
        if g > gain or (g == gain and best is not None and s.score > best.score):
            best, gain = s, g
    return chosen + [best] if best is not None and gain >= COVER_MIN_GAIN else chosen


# --- every paper a plural question asks for -------------------------------------------------------
# One sentence from each paper the question is about (plural_papers; before, every retrieved paper
# whose best sentence was within PLURAL_MARGIN of the best one, now the fallback), plus that paper's
# best contribution sentence ("we propose…") when the first is not one: the best match is often
# background that restates the question's topic, and "which papers…" asks what each did (key-fact
# recall 0.779 -> 0.792 tuning, 0.699 -> 0.713 held-out). The margin, on the tuning set's 26 plural
# questions, paper-level precision / recall against the gold papers: 0.776 / 0.628 before; margin
# 0.15: 0.761 / 0.667, 0.25: 0.685 / 0.843, 0.35: 0.624 / 0.907, every retrieved paper: 0.538 / 0.907.
PLURAL = True
PLURAL_MARGIN = 0.3  # fallback; learned score's units (eval/runs/sentence_rank: 0.25 with the plain score)
PLURAL_PER_PAPER = 1
# "which papers…, and how?" asks what each one does: two sentences per paper (tuning key facts 0.881
# -> 0.892, multi-paper 0.853 -> 0.904, 102 -> 107 words; every plural question: 0.895, 122 words)
PLURAL_PER_PAPER_HOW = 2
_ASKS_HOW = re.compile(r"\band (?:how|what)\b", re.I)
PLURAL_MAX_PAPERS = 8  # with k raised to 50 a plural answer stays readable (k=5 never reaches it)
PLURAL_CONTRIBUTION = True  # and the paper's contribution sentence when its best one is not that
# Which papers a plural answer lists: those whose fused retrieval score is at least
# PLURAL_RETRIEVAL_SHARE of the first paper's. Retrieval judges the paper as a whole; the quoting
# score (rag/sentence_rank.py) leans on the paper's rank and on "we propose" sentences, so by its
# margin an off-topic paper with a naming sentence outranked a relevant one that has none. Tuning set
# (eval/gold.jsonl, 26 plural questions), cited papers' precision / recall against the gold papers:
# learned margin 0.30: 0.675 / 0.837; share 0.4: 0.683 / 0.885, 0.5: 0.771 / 0.849, 0.6: 0.836 /
# 0.776, 0.7: 0.893 / 0.696 (eval/runs/plural_papers). Only z-score fusion's scores have a
# meaningful ratio; other retrieval modes fall back to the quoting score's margin.
PLURAL_BY_RETRIEVAL = True
PLURAL_RETRIEVAL_SHARE = 0.5
_PLURAL = re.compile(
    r"\bpapers\b|\b(?:which|what|any|other|some)\s+(?:works|studies|articles)\b|\bare there\b|\bany work\b", re.I
)


def asks_many(question: str) -> bool:
    """Whether a question asks for several papers ("which papers…", "are there works…"); "which
    paper studies X" does not."""
    return bool(_PLURAL.search(question))


def plural_papers(scored: list[ScoredSentence], passages: list[Passage] | None = None) -> list[int]:
    """The sources a plural answer lists, best first (see PLURAL_RETRIEVAL_SHARE)."""
    have = {s.source for s in scored}
    top = max((p.score for p in passages or []), default=0.0)
    if PLURAL_BY_RETRIEVAL and top > 0 and all(p.metadata.get("fusion") == "zscore" for p in passages or []):
        floor = PLURAL_RETRIEVAL_SHARE * top
        return [i for i, p in enumerate(passages) if i in have and p.score >= floor]
    best_of: dict[int, float] = {}
    for s in scored:
        best_of[s.source] = max(best_of.get(s.source, s.score), s.score)
    best = max(best_of.values())
    return [i for i, b in sorted(best_of.items(), key=lambda kv: -kv[1]) if b >= best - PLURAL_MARGIN]


def select_many(
    scored: list[ScoredSentence], passages: list[Passage] | None = None, question: str = ""
) -> list[ScoredSentence]:
    """The best PLURAL_PER_PAPER sentences (and a contribution sentence) of every paper the question
    is about (plural_papers), at most PLURAL_MAX_PAPERS."""
    if not scored:
        return []
    chosen: list[ScoredSentence] = []
    for src in plural_papers(scored, passages)[:PLURAL_MAX_PAPERS]:
        mine = sorted((s for s in scored if s.source == src), key=lambda s: -s.score)
        picked = mine[: PLURAL_PER_PAPER_HOW if _ASKS_HOW.search(question) else PLURAL_PER_PAPER]
        if PLURAL_CONTRIBUTION and not any(names_contribution(s.text) for s in picked):
            picked += [s for s in mine if names_contribution(s.text)][:1]
        chosen += picked
    return chosen
