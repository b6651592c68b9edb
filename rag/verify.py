"""Citation verification: no answer sentence reaches the user unchecked.

Every sentence must cite at least one listed source, and what it claims must be found in the
sources it cites. The offline checker looks for, in order:

* a verbatim quote (extractive answers): accepted at once;
* numbers: each must occur in a cited source, next to the same words as in the sentence (a
  number moved from another sentence of the abstract is caught);
* names (acronyms, CamelCase, capitalised words mid-sentence): each must occur in a cited source;
* lexical support: enough stemmed content words in the cited sources overall (`min_support`) and
  in the one or two cited sentences that best match the claim (so a sentence stitched together
  from a similar paper's vocabulary does not pass);
* polarity: the claim and the source sentences it aligns with must agree on negation ("not",
  "without", "fails to"...) and must not swap a word for its antonym ("improves"/"degrades");
* optionally, embedding similarity to the best-matching cited sentence (pass an `embedder`).

Failing sentences are removed (and reported), and the surviving citations are renumbered in order
of first use. `eval/checker.py` measures the checker on a labeled set (eval/checker_set.jsonl);
the thresholds below were chosen on its dev split.
"""

from __future__ import annotations

import difflib
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from rag.lexical import STEMMER, STOPWORDS, content_stems
from rag.models import ABSTAIN_TEXT, Answer, Citation, Passage, SentenceCheck
from rag.text import neutralize_refs, plain_title, split_sentences

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])")
# Named things: acronyms (LZN, CIFAR10), CamelCase (MTLoRA, BioBERT), hyphenated names with caps.
_NAMED = re.compile(r"\b(?:[A-Z][a-z]*[A-Z][\w-]*|[A-Z]{2,}[\w-]*|\w*\d\w*[A-Z]\w*)\b")
_CAPWORD = re.compile(r"\b[A-Z][a-z]{2,}\b")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+(?:n't)?")

_STOP = frozenset(STOPWORDS)
DEFAULT_MIN_SUPPORT = 0.5
# Fraction of the claim's content words found in its best one or two cited sentences. Chosen on
# the dev split, deliberately below the point that separates the (light, rule-based) faithful
# paraphrases there, because generated answers paraphrase more freely.
ALIGNED_MIN = 0.6
# Fraction of the words around a number in the claim that also surround it in the source.
NUMBER_CONTEXT_MIN = 0.25
# Cosine similarity (MiniLM) between the claim and its best-matching cited sentence(s).
EMBEDDING_MIN = 0.7

NEGATION_CUES = frozenset(
    "not no never without cannot neither nor none nothing nobody unable fail fails failed failing "
    "lack lacks lacking barely hardly absence absent".split()
)
_ANTONYM_GROUPS = [
    (
        "improve improves improved improving improvement",
        "degrade degrades degraded degrading worsen worsens hurt hurts",
    ),
    (
        "increase increases increased increasing",
        "decrease decreases decreased decreasing reduce reduces reduced",
    ),
    ("higher", "lower"),
    ("high", "low"),
    ("better", "worse"),
    ("best", "worst"),
    ("faster", "slower"),
    ("fast", "slow"),
    ("larger bigger", "smaller"),
    ("large", "small"),
    ("more", "less fewer"),
    ("superior", "inferior"),
    ("outperform outperforms outperformed outperforming", "underperform underperforms underperformed"),
    ("effective", "ineffective"),
    ("efficient", "inefficient"),
    ("stable", "unstable"),
    ("strong strongly", "weak weakly"),
    ("accurate", "inaccurate"),
    ("consistently always often frequently", "rarely seldom"),
    ("possible", "impossible"),
    ("sufficient", "insufficient"),
    ("necessary", "unnecessary"),
    ("easy easier", "hard harder difficult"),
    ("positive", "negative"),
    ("maximize maximizes", "minimize minimizes"),
    ("above", "below"),
    ("success successful", "failure unsuccessful"),
    ("significant significantly", "insignificant negligible marginally"),
]


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    return STEMMER.stemWord(word)


def _build_antonyms() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for left, right in _ANTONYM_GROUPS:
        ls, rs = {stem(w) for w in left.split()}, {stem(w) for w in right.split()}
        for s in ls:
            out.setdefault(s, set()).update(rs - ls)
        for s in rs:
            out.setdefault(s, set()).update(ls - rs)
    return {k: frozenset(v) for k, v in out.items()}


ANTONYMS = _build_antonyms()


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
    """What a citation of `p` can be checked against: title and abstract, without the abstract's own [n]."""
    return neutralize_refs(f"{p.title}\n{p.text}")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\s+([.,;:!?])", r"\1", text)).strip().lower().rstrip(".!?")


def _tokens(text: str) -> list[str]:
    """Lower-cased words and numbers ("2.59", "1000"); commas inside numbers dropped."""
    return [t.replace(",", "") if t[0].isdigit() else t for t in _TOKEN.findall(text.lower())]


def _is_number(tok: str) -> bool:
    return tok[0].isdigit()


def _content(tok: str) -> bool:
    return not _is_number(tok) and len(tok) > 1 and tok not in _STOP


@dataclass(frozen=True)
class _Sentence:
    text: str
    tokens: tuple[str, ...]
    stems: tuple[str, ...]  # stem of every token (stop words kept, for alignment)
    content: frozenset[str]  # stemmed content words


@lru_cache(maxsize=4096)
def _sentence(text: str) -> _Sentence:
    toks = tuple(_tokens(text))
    stems = tuple(t if _is_number(t) else stem(t) for t in toks)
    return _Sentence(text, toks, stems, frozenset(content_stems(text)))


@lru_cache(maxsize=1024)
def _source_sentences(title: str, text: str) -> tuple[_Sentence, ...]:
    return (_sentence(neutralize_refs(title)), *(_sentence(s) for s in split_sentences(neutralize_refs(text))))


@dataclass
class Assessment:
    """The checker's evidence for one claim against the passages it cites."""

    supported: bool
    reasons: list[str] = field(default_factory=list)
    coverage: float = 0.0  # content words found anywhere in the cited passages
    aligned: float = 0.0  # content words found in the best one or two cited sentences
    embedding: float | None = None  # cosine to the best-matching cited sentence(s), if computed
    quote: bool = False  # the claim is a verbatim quote of a cited passage
    evidence: list[str] = field(default_factory=list)  # the cited sentences the claim aligns with


def _align(claim: _Sentence, sentences: tuple[_Sentence, ...], n: int = 2) -> tuple[float, list[_Sentence]]:
    """Greedy cover of the claim's content words by at most n source sentences."""
    want = claim.content
    if not want:
        return 1.0, []
    covered: set[str] = set()
    chosen: list[_Sentence] = []
    for i in range(n):
        best = max(sentences, key=lambda s: len((covered | s.content) & want), default=None)
        # a second sentence must add at least two words, or it is noise, not evidence
        if best is None or len((best.content & want) - covered) < (1 if i == 0 else 2):
            break
        covered |= best.content & want
        chosen.append(best)
    return len(covered) / len(want), chosen


def _region(claim: _Sentence, src: _Sentence) -> tuple[int, int]:
    """The token span of a source sentence that the claim lines up with (empty when none)."""
    matcher = difflib.SequenceMatcher(None, src.stems, claim.stems, autojunk=False)
    spans = [
        (b.a, b.a + b.size)
        for b in matcher.get_matching_blocks()
        if b.size >= 2 or (b.size == 1 and _content(src.tokens[b.a]) and len(src.tokens[b.a]) > 3)
    ]
    if not spans:
        return 0, 0
    return min(a for a, _ in spans), max(b for _, b in spans)


def _negations(stems: tuple[str, ...], tokens: tuple[str, ...]) -> int:
    """Negation cues; "not only ... but also" is not a negation."""
    return sum(
        1
        for i, (s, t) in enumerate(zip(stems, tokens, strict=False))
        if (t in NEGATION_CUES or t.endswith("n't") or s == "fail")
        and not (t == "not" and i + 1 < len(tokens) and tokens[i + 1] == "only")
    )


def _polarity_problems(claim: _Sentence, evidence: list[_Sentence]) -> list[str]:
    """Negation or antonym mismatches between the claim and the source sentences it aligns with."""
    if not evidence:
        return []
    region_stems: list[str] = []
    region_neg = 0
    for src in evidence:
        lo, hi = _region(claim, src)
        # a negation scopes over what follows it ("does not need X" -> "needs X" matches from "need"),
        # so look two tokens to the left; not to the right, where a dropped "..., without Y" clause
        # of the source would count against a faithful shortening
        region_neg += _negations(src.stems[max(lo - 2, 0) : hi], src.tokens[max(lo - 2, 0) : hi])
        # a word swapped at the edge of the match ("an effective technique") is just outside it
        region_stems.extend(src.stems[max(lo - 2, 0) : hi + 2])
    problems = []
    claim_neg = _negations(claim.stems, claim.tokens)
    if claim_neg != region_neg:
        problems.append(
            "negates what the cited source states"
            if claim_neg > region_neg
            else "drops a negation that the cited source has"
        )
    claim_counts: dict[str, int] = {}
    for s in claim.stems:
        claim_counts[s] = claim_counts.get(s, 0) + 1
    region_counts: dict[str, int] = {}
    for s in region_stems:
        region_counts[s] = region_counts.get(s, 0) + 1
    for word, count in claim_counts.items():
        if word not in ANTONYMS or count <= region_counts.get(word, 0):
            continue
        flipped = [a for a in ANTONYMS[word] if region_counts.get(a, 0) > claim_counts.get(a, 0)]
        if flipped:
            problems.append(f"says '{word}' where the cited source says '{flipped[0]}'")
            break
    return problems


def _number_problems(claim: _Sentence, sentences: tuple[_Sentence, ...], window: int = 5) -> list[str]:
    """Numbers that occur in the source only next to other words (moved from another claim)."""
    problems = []
    for i, tok in enumerate(claim.tokens):
        if not _is_number(tok):
            continue
        ctx = {
            s
            for s, t in zip(
                claim.stems[max(i - window, 0) : i + window + 1],
                claim.tokens[max(i - window, 0) : i + window + 1],
                strict=False,
            )
            if _content(t)
        }
        if len(ctx) < 2:
            continue
        best = 0.0
        for src in sentences:
            for j, t in enumerate(src.tokens):
                if t != tok:
                    continue
                lo, hi = max(j - 2 * window, 0), j + 2 * window + 1
                near = {s for s, u in zip(src.stems[lo:hi], src.tokens[lo:hi], strict=False) if _content(u)}
                best = max(best, len(ctx & near) / len(ctx))
        if best < NUMBER_CONTEXT_MIN:
            problems.append(f"number {tok} appears in the cited source in another context")
    return problems


def _replaced_numbers(claim: _Sentence, evidence: list[_Sentence]) -> list[str]:
    """A number standing where the aligned source sentence has a different number."""
    problems = []
    for src in evidence[:1]:
        matcher = difflib.SequenceMatcher(None, src.stems, claim.stems, autojunk=False)
        for op, a0, a1, b0, b1 in matcher.get_opcodes():
            old = [t for t in src.tokens[a0:a1] if _is_number(t)]
            new = [t for t in claim.tokens[b0:b1] if _is_number(t)]
            if op == "replace" and a1 - a0 <= 3 and b1 - b0 <= 3 and len(old) == len(new) == 1 and old != new:
                problems.append(f"says {new[0]} where the cited sentence says {old[0]}")
    return problems


def _capitalised_names(claim: str) -> list[str]:
    """Capitalised words in mid-sentence (not the first word, not after ':' or a quote)."""
    out = []
    for m in _CAPWORD.finditer(claim):
        before = claim[: m.start()].rstrip()
        if not before or before[-1] in ".!?:;\"'“‘" or _NAMED.fullmatch(m.group(0)):
            continue
        out.append(m.group(0))
    return out


_EMBED_CACHE: dict[tuple[int, str], np.ndarray] = {}
_EMBED_LOCK = threading.Lock()


def _vectors(embedder, texts: list[str]) -> np.ndarray:
    """Unit vectors for texts, cached per embedder (the same abstracts are checked over and over)."""
    missing = [t for t in dict.fromkeys(texts) if (id(embedder), t) not in _EMBED_CACHE]
    if missing:
        vecs = np.asarray(embedder.get_text_embedding_batch(missing), dtype=float)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-12
        with _EMBED_LOCK:
            if len(_EMBED_CACHE) > 20_000:
                _EMBED_CACHE.clear()
            for t, v in zip(missing, vecs, strict=False):
                _EMBED_CACHE[(id(embedder), t)] = v
    return np.stack([_EMBED_CACHE[(id(embedder), t)] for t in texts])


def _embedding_support(embedder, claim: str, sentences: tuple[_Sentence, ...], evidence: list[_Sentence]) -> float:
    candidates = [s.text for s in sentences]
    if len(evidence) > 1:
        candidates.append(" ".join(s.text for s in evidence))
    vecs = _vectors(embedder, [claim, *candidates])
    return float((vecs[1:] @ vecs[0]).max())


_EMPHASIS = re.compile(r"\*\*|__|`")


def _without_titles(claim: str, passages: list[Passage]) -> str:
    """The claim without markdown emphasis and without the cited papers' titles.

    Answers may name a paper ("**To Interpolate or not to Interpolate** - ..."); a title is a label,
    not a claim, and its words ("not") must not count as the sentence's own.
    """
    text = _EMPHASIS.sub("", claim)
    for p in passages:
        title = plain_title(p.title)
        if len(title) >= 8:
            text = re.sub(re.escape(title), " ", text, flags=re.IGNORECASE)
    return " ".join(re.sub(r"^[\W_]+", "", text.strip()).split())


def assess(
    claim: str,
    passages: list[Passage],
    min_support: float = DEFAULT_MIN_SUPPORT,
    *,
    embedder=None,
) -> Assessment:
    """Is `claim` (a sentence without [n] markers) supported by these passages taken together?"""
    if not passages:
        return Assessment(False, ["no cited source"])
    bare = _without_titles(claim, passages)
    if len(_tokens(bare)) < 2:
        if len(_tokens(claim)) < 2:  # "2 [1].", "Yes [1]." state nothing a source could support
            return Assessment(False, ["states nothing the source could support"])
        # nothing but a cited paper's title
        return Assessment(True, coverage=1.0, aligned=1.0, quote=True, embedding=1.0 if embedder else None)
    claim = bare
    joined = "\n".join(source_text(p) for p in passages)
    c = _sentence(claim)
    if len(c.tokens) >= 4 and _norm(claim) in _norm(joined):
        return Assessment(True, coverage=1.0, aligned=1.0, quote=True, embedding=1.0 if embedder else None)

    sentences = tuple(s for p in passages for s in _source_sentences(p.title, p.text))
    reasons: list[str] = []
    missing = sorted(_numbers(claim) - _numbers(joined))
    if missing:
        reasons.append(f"number(s) {', '.join(missing)} not in the cited source")
    low = joined.lower()
    unnamed = {m for m in _NAMED.findall(claim) if m.lower() not in low}
    coverage, evidence = _align(c, sentences)
    near = " ".join(s.text for s in evidence).lower()
    unnamed |= {w for w in _capitalised_names(claim) if w not in joined and w.lower() not in near}
    if unnamed:
        reasons.append(f"name(s) {', '.join(sorted(unnamed))} not in the cited source")
    if not missing:
        reasons.extend(_number_problems(c, sentences) or _replaced_numbers(c, evidence))

    words = content_stems(claim)
    overall = sum(w in {x for s in sentences for x in s.content} for w in words) / len(words) if words else 0.0
    if not words:
        reasons.append("states nothing the source could support")
    elif overall < min_support:
        reasons.append(f"only {overall:.0%} of its words are in the cited source")
    elif coverage < ALIGNED_MIN:
        reasons.append(f"no cited sentence says this (best match covers {coverage:.0%} of its words)")
    reasons.extend(_polarity_problems(c, evidence))
    emb = None
    if embedder is not None:
        emb = _embedding_support(embedder, claim, sentences, evidence)
        if emb < EMBEDDING_MIN:
            reasons.append(f"meaning differs from the cited source (similarity {emb:.2f})")
    return Assessment(
        not reasons,
        reasons,
        coverage=round(overall, 3),
        aligned=round(coverage, 3),
        embedding=None if emb is None else round(emb, 3),
        evidence=[s.text for s in evidence],
    )


def supports(claim: str, passages: list[Passage], min_support: float = DEFAULT_MIN_SUPPORT, *, embedder=None) -> bool:
    """Entailment stand-in for metrics: do these passages, together, support the claim?"""
    return assess(claim, passages, min_support, embedder=embedder).supported


def check_sentence(
    sentence: str, sources: list[Passage], min_support: float = DEFAULT_MIN_SUPPORT, *, embedder=None
) -> SentenceCheck:
    """The gate's verdict on one answer sentence; `support` is its aligned lexical support."""
    cites = citations_in(sentence)
    claim = strip_markers(sentence)
    reasons: list[str] = []
    if not cites:
        reasons.append("no citation")
    bad = [n for n in cites if not 1 <= n <= len(sources)]
    if bad:
        reasons.append(f"cites [{', '.join(map(str, bad))}], which is not a listed source")
    cited = [sources[n - 1] for n in cites if 1 <= n <= len(sources)]
    support = 0.0
    if cited:
        result = assess(claim, cited, min_support, embedder=embedder)
        reasons.extend(result.reasons)
        support = result.aligned
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


def answer_from(
    question: str,
    passages: list[Passage],
    verified: Verified | None,
    *,
    mode: str,
    confidence: float,
    timings: dict[str, float],
    removed: list[SentenceCheck] | None = None,
) -> Answer:
    """The user-facing Answer for a verified draft; it abstains when no cited sentence survived."""
    dropped = list(removed or []) + (verified.removed if verified else [])
    common = {"question": question, "sources": passages, "mode": mode, "confidence": confidence,
              "timings": timings, "removed": dropped}
    if verified is None or not verified.citations:
        return Answer(text=ABSTAIN_TEXT, abstained=True, **common)
    return Answer(text=verified.text, citations=verified.citations, sentences=verified.sentences, **common)


def _renumber(sentence: str, mapping: dict[int, int]) -> str:
    def sub(m: re.Match) -> str:
        nums = [mapping[int(n)] for n in m.group(1).split(",") if int(n) in mapping]
        return "[" + ", ".join(map(str, sorted(set(nums)))) + "]" if nums else ""

    return _MARKER.sub(sub, sentence)


def verify_answer(
    text: str, sources: list[Passage], min_support: float = DEFAULT_MIN_SUPPORT, *, embedder=None
) -> Verified:
    """Check each sentence; drop unsupported ones; renumber citations by first use.

    Paragraph breaks in `text` are kept. Citations refer to `sources` (1-based) on input and to
    the returned `citations` list on output. `embedder` (optional) adds the embedding signal.
    """
    kept: list[list[SentenceCheck]] = []
    removed: list[SentenceCheck] = []
    for para in re.split(r"\n\s*\n", text.strip()):
        checks = [check_sentence(s, sources, min_support, embedder=embedder) for s in split_sentences(para)]
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
