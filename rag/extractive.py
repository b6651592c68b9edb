"""Extractive answerer: quote the abstract sentences that answer the question, with citations.

No language model: sentences are scored by embedding similarity to the question plus lexical
overlap (what abstention and the LLM's evidence read), re-ranked for quoting by a linear scorer
fitted on the tuning sets (rag/sentence_rank.py), selected with maximal marginal relevance (so the
answer is not three paraphrases of one claim) and spread across papers, then put back in their
abstract order under each paper. What the answer must also cover (the contribution's name, each
part of the question, every paper a "which papers" question asks for) is in rag/coverage.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rag import abstain, sentence_rank
from rag import coverage as cover
from rag.lexical import content_stems
from rag.models import ABSTAIN_TEXT, NO_FIGURE_TEXT, Passage, no_name_text
from rag.text import BOILERPLATE, cite, neutralize_refs, plain_title, split_sentences

LEXICAL_WEIGHT = 0.3
MMR_LAMBDA = 0.7
# quoted sentences per paper (eval/runs/per_paper: 2 -> 3, key facts +0.012 tuning; eval/runs/tune_extra:
# 3 -> 4 without the naming bonus, key facts +0.019 / +0.044 / +0.070 on the three tuning sets, +2-5 words)
MAX_PER_PAPER = 4
FIGURE_NAMED = True
LEARNED_RANK = True  # quote by rag.sentence_rank's learned score (eval/runs/sentence_rank), not the plain one
MARGIN = 0.15  # sentences scoring this far below the best one are left out


@dataclass
class ScoredSentence:
    source: int  # 0-based index into the passages
    position: int  # order within the passage
    text: str
    cosine: float
    lexical: float
    score: float
    vector: np.ndarray


def _lexical(question_stems: set[str], text: str) -> float:
    if not question_stems:
        return 0.0
    return len(question_stems & set(content_stems(text))) / len(question_stems)


QUANTITY_BONUS = 0.1
# A naming bonus (NAMING_BONUS 0.1, eval/runs/naming) was added to "we propose…" sentences here until
# 2026-12-05: with the learned scorer, which has naming features of its own, it counted naming twice and
# put background sentences that introduce an abbreviation ahead of the answer; removing it raised key
# facts on all three tuning sets (eval/runs/tune_extra).
BOILERPLATE_PENALTY = 0.2


def score_sentences(question: str, passages: list[Passage], embedder) -> list[ScoredSentence]:
    """Every sentence of every passage, scored against the question.

    For a question asking for a quantity, sentences that give one for the asked-for thing
    score higher: those are the sentences the answer needs.
    """
    items = [(i, j, s) for i, p in enumerate(passages) for j, s in enumerate(split_sentences(neutralize_refs(p.text)))]
    if not items:
        return []
    q = np.asarray(embedder.get_query_embedding(question))
    vecs = np.asarray(embedder.get_text_embedding_batch([s for _, _, s in items]))
    q_stems = set(content_stems(question))
    focus = abstain.quantity_focus(question)
    out = []
    for (i, j, s), v in zip(items, vecs):
        cos = float(v @ q / (np.linalg.norm(v) * np.linalg.norm(q) + 1e-9))
        lex = _lexical(q_stems, s)  # the title would lift every sentence of a paper alike
        score = cos + LEXICAL_WEIGHT * lex
        if focus is not None and abstain.answers_quantity(focus, s):
            score += QUANTITY_BONUS
        if BOILERPLATE.search(s):
            score -= BOILERPLATE_PENALTY
        out.append(ScoredSentence(i, j, s, cos, lex, score, v))
    return out


NO_FIGURE = "no figure for the asked quantity in the top papers"
NO_NAME = "a name in the question occurs in none of the top papers"


@dataclass
class Draft:
    """The extractive answer before verification, with the abstention decision."""

    text: str
    confidence: float
    abstained: bool
    reason: str
    scored: list[ScoredSentence]
    missing: list[str] = field(default_factory=list)
    ranked: list[ScoredSentence] = field(default_factory=list)  # `scored` rescored for quoting (sentence_rank)

    @property
    def abstain_text(self) -> str:
        """What the reader is told when this draft abstains: why, where the reason is worth saying."""
        if self.reason == NO_NAME:
            return no_name_text(self.missing)
        return NO_FIGURE_TEXT if self.reason == NO_FIGURE else ABSTAIN_TEXT

    @property
    def decided(self) -> bool:
        """Abstained for a reason that holds whatever the evidence score (LLM mode honours it too)."""
        return self.reason in (NO_FIGURE, NO_NAME)


def draft_answer(
    question: str,
    passages: list[Passage],
    embedder,
    vocabulary: tuple[dict[str, int], int],
    threshold: float,
    max_sentences: int,
    figure_papers: int = 0,
    name_check: bool = False,
    name_max_share: float = 0.0,
    show_names: bool = False,
) -> Draft:
    """Score sentences, decide whether the evidence answers the question, compose the answer."""
    scored = score_sentences(question, passages, embedder)
    if not scored:
        return Draft("", 0.0, True, "nothing retrieved", scored)
    df, n_docs = vocabulary
    ranked = sentence_rank.rescore(question, scored, df, n_docs) if LEARNED_RANK else scored
    best_cos = max(s.cosine for s in scored)
    coverage, unseen = max(
        (abstain.idf_coverage(question, f"{p.title} {p.text}", df, n_docs) for p in passages[:3]),
        key=lambda cu: cu[0],
    )
    confidence = abstain.evidence(best_cos, coverage, unseen)
    # before the threshold: LLM mode has a lower threshold of its own but honours this check too
    terms = abstain.figure_terms(question) if figure_papers else None
    if terms is not None:
        top = set(range(figure_papers))
        if FIGURE_NAMED:  # a figure asked about a named system comes from a top paper that names it
            top = set(abstain.papers_named(question, passages[:figure_papers], df, n_docs, name_max_share)) or top
        given = abstain.given_figures(question)
        if not any(s.source in top and abstain.states_figure(terms, s.text, given) for s in scored):
            return Draft("", confidence, True, NO_FIGURE, scored, ranked=ranked)
    if name_check:  # every source the reader is shown: the abstention says none of them mentions it
        texts = [f"{p.title} {p.text}" for p in passages]
        missing = abstain.missing_names(question, texts, df, n_docs, name_max_share)
        if missing:
            return Draft("", confidence, True, NO_NAME, scored, missing, ranked=ranked)
    if confidence < threshold:
        return Draft("", confidence, True, "weak evidence", scored, ranked=ranked)
    if cover.PLURAL and cover.asks_many(question):
        chosen = cover.select_many(ranked, passages, question)
    else:
        chosen = select(ranked, max_sentences)
    if show_names:
        chosen = cover.show_names(question, chosen, ranked, df, n_docs, MAX_PER_PAPER)
    chosen = cover.cover_question(question, chosen, ranked, passages, df, n_docs)
    return Draft(compose(chosen, passages), confidence, False, "", scored, ranked=ranked)


def select(scored: list[ScoredSentence], max_sentences: int) -> list[ScoredSentence]:
    """Maximal marginal relevance with a per-paper cap and a floor relative to the best score."""
    if not scored:
        return []
    best = max(s.score for s in scored)
    pool = [s for s in scored if s.score >= best - MARGIN]
    chosen: list[ScoredSentence] = []
    per_source: dict[int, int] = {}
    while pool and len(chosen) < max_sentences:

        def mmr(s: ScoredSentence) -> float:
            if not chosen:
                return s.score
            sim = max(
                float(s.vector @ c.vector / (np.linalg.norm(s.vector) * np.linalg.norm(c.vector) + 1e-9))
                for c in chosen
            )
            return MMR_LAMBDA * s.score - (1 - MMR_LAMBDA) * sim

        pick = max(pool, key=mmr)
        pool.remove(pick)
        if per_source.get(pick.source, 0) >= MAX_PER_PAPER:
            continue
        per_source[pick.source] = per_source.get(pick.source, 0) + 1
        chosen.append(pick)
    return chosen


def compose(chosen: list[ScoredSentence], passages: list[Passage]) -> str:
    """One paragraph per paper, papers in order of their best sentence, sentences in abstract order.

    Markers use the 1-based passage number; the verifier renumbers them by first use.
    """
    order: list[int] = []
    for s in sorted(chosen, key=lambda s: -s.score):
        if s.source not in order:
            order.append(s.source)
    paras = []
    for src in order:
        sents = sorted((s for s in chosen if s.source == src), key=lambda s: s.position)
        body = " ".join(cite(s.text, [src + 1]) for s in sents)
        # The title leads: a researcher asking "which paper" needs its name, not only its words.
        paras.append(f"**{plain_title(passages[src].title)}** [{src + 1}] — {body}")
    return "\n\n".join(paras)
