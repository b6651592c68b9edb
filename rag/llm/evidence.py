"""The evidence a generated answer is written from: the best sentences of the retrieved papers.

A small model on a CPU pays for every prompt token (about 40 tokens/s for the 1.5B model on two
cores), and reads short evidence better than five whole abstracts. So the prompt carries the
sentences the extractive scorer ranked highest, grouped under numbered paper titles, within a
token budget; the whole abstracts stay with the verifier and the UI.

Selection is round-robin by rank: first each paper's best sentence (papers in order of their best
sentence), then each paper's contribution sentence ("we propose X ..."), which names the method a
"which paper" or paraphrased question is after even when its words differ from the question's,
then each paper's next best, and so on, while the budget lasts. Within a paper the chosen
sentences are shown in abstract order, so the model reads them as the authors wrote them. Papers
whose best sentence scores far below the best paper's are left out: they only cost tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.extractive import ScoredSentence
from rag.llm.base import Prompt
from rag.llm.prompts import NO_ANSWER, render
from rag.models import Passage
from rag.text import plain_title

#: A paper whose best sentence scores this far below the best paper's is not shown to the model.
PAPER_MARGIN = 0.25
_CONTRIBUTION = re.compile(
    r"\b(?:we|this (?:paper|work|study)|in this (?:paper|work))\s+(?:\w+\s+){0,2}?"
    r"(?:propose|introduce|present|develop|design|describe)s?\b",
    re.I,
)


#: Within a paper, offer sentences in the order of the learned quoting score (rag/sentence_rank.py)
#: instead of the plain one; which papers are shown still follows the plain score. Off: held-out key
#: facts 0.685 -> 0.683 missed its pre-registered rule (unsupported 3.9% -> 3.0%; eval/runs/llm_order).
LEARNED_ORDER = False


def _ranked(sentences: list[ScoredSentence], order: dict[int, float] | None = None) -> list[ScoredSentence]:
    """A paper's sentences in the order they are offered: best, the contribution sentence, the rest."""
    by_score = sorted(sentences, key=lambda s: -(order[id(s)] if order else s.score))
    contribution = next((s for s in sorted(sentences, key=lambda s: s.position) if _CONTRIBUTION.search(s.text)), None)
    if contribution is None or contribution is by_score[0]:
        return by_score
    return [by_score[0], contribution, *(s for s in by_score[1:] if s is not contribution)]


@dataclass(frozen=True)
class EvidenceSource:
    """One numbered source of the prompt: a retrieved paper and the sentences shown from it."""

    passage: Passage  # the whole abstract: what citations of this source are verified against
    sentences: tuple[str, ...]  # shown to the model, in abstract order

    def render(self, number: int) -> str:
        return render(
            "evidence_source", number=number, title=plain_title(self.passage.title), text=" ".join(self.sentences)
        )


def select_evidence(
    scored: list[ScoredSentence],
    passages: list[Passage],
    count_tokens: Callable[[str], int],
    budget: int,
    max_per_paper: int = 3,
    ranked: list[ScoredSentence] | None = None,
) -> list[EvidenceSource]:
    """Best sentences of the best papers that fit `budget` tokens (rendered), best paper first.

    `ranked`: the same sentences rescored for quoting (rag.sentence_rank.rescore), which orders
    each paper's sentences when LEARNED_ORDER is on."""
    by_paper: dict[int, list[ScoredSentence]] = {}
    for s in scored:
        by_paper.setdefault(s.source, []).append(s)
    if not by_paper:
        return []
    best = {src: max(x.score for x in sents) for src, sents in by_paper.items()}
    learned = {id(s): r.score for s, r in zip(scored, ranked, strict=True)} if LEARNED_ORDER and ranked else None
    by_paper = {src: _ranked(sents, learned) for src, sents in by_paper.items()}
    top = max(best.values())
    order = sorted((src for src in by_paper if best[src] >= top - PAPER_MARGIN), key=lambda src: -best[src])
    chosen: dict[int, list[ScoredSentence]] = {src: [] for src in order}
    used = 0
    for rank in range(max_per_paper):
        for src in order:
            if rank >= len(by_paper[src]) or len(chosen[src]) < rank:
                continue
            candidate = by_paper[src][rank]
            # the title line is paid once, with the paper's first sentence
            cost = count_tokens(candidate.text) + 1
            if not chosen[src]:
                cost += count_tokens(plain_title(passages[src].title)) + 4
            if used + cost > budget:
                continue
            chosen[src].append(candidate)
            used += cost
    return [
        EvidenceSource(passages[src], tuple(s.text for s in sorted(chosen[src], key=lambda s: s.position)))
        for src in order
        if chosen[src]
    ]


def render_sources(sources: list[EvidenceSource]) -> str:
    return "\n\n".join(src.render(i) for i, src in enumerate(sources, 1))


# Base models run on past the answer; these end it (applied on our side, see rag.llm.stops).
COMPLETION_STOP = ["\n\n", "\nQuestion:", "\nSources:", "\n["]


def fixed_messages() -> list[dict[str, str]]:
    """System prompt and three worked examples (several papers; which paper, asked in other words;
    a detail no source gives): identical for every question, so llama.cpp reuses their KV cache and
    only the sources and the question are evaluated per question. As chat turns they made the model
    answer more often than the same examples inside the system prompt (tuning sample of
    eval/gold.jsonl: false abstention 0.25 vs 0.44)."""
    return [
        {"role": "system", "content": render("answer_system", no_answer=NO_ANSWER)},
        {"role": "user", "content": render("example_user")},
        {"role": "assistant", "content": render("example_assistant")},
        {"role": "user", "content": render("example_paper_user")},
        {"role": "assistant", "content": render("example_paper_assistant")},
        {"role": "user", "content": render("example_decline_user")},
        {"role": "assistant", "content": render("example_decline_assistant", no_answer=NO_ANSWER)},
    ]


def citation_grammar(n_sources: int) -> str:
    """GBNF: one to four sentences, each ending in citations of listed sources, or the no-answer line."""
    nums = " | ".join(f'"{i}"' for i in range(1, n_sources + 1)) or '"1"'
    decline = NO_ANSWER.replace('"', '\\"')
    return "\n".join(
        [
            "root ::= decline | answer",
            f'decline ::= "{decline}"',
            'answer ::= sentence (" " sentence)? (" " sentence)? (" " sentence)?',
            'sentence ::= [^\\[\\]\\n]+ " [" num (", " num)* "]."',
            f"num ::= {nums}",
        ]
    )


def build_prompt(question: str, sources: list[EvidenceSource], *, grammar: bool = False) -> Prompt:
    """Chat messages (instruction-tuned models) and a completion text (base models) for the same sources.

    `grammar` adds a GBNF that makes every sentence end with a citation of a listed source.
    """
    blocks = render_sources(sources)
    return Prompt(
        text=render("answer_completion", sources=blocks, question=question, no_answer=NO_ANSWER),
        messages=[
            *fixed_messages(),
            {"role": "user", "content": render("answer_user", sources=blocks, question=question)},
        ],
        stop=COMPLETION_STOP,
        grammar=citation_grammar(len(sources)) if grammar else None,
    )
