"""Deterministic synthetic corpora for the scale benchmark: the bundled papers plus plausible distractors.

A corpus of N papers = the bundled listing pages, unchanged (371 unique papers, so every question in
eval/gold.jsonl and eval/heldout.jsonl keeps its gold papers at every size) + one JSONL file of
N - 371 extra papers, written by `synthesize()` from a fixed seed (same seed, same bytes):

* Optionally (default when the file is present) up to 10% of the extra papers, at most 1,000, are
  PubMedQA's expert-labelled abstracts verbatim (title = its question, abstract = its contexts joined),
  read in place from /work/shared/benchmarks/pubmedqa/ori_pqal.json: real text from another field.
* The rest are synthetic. Each picks a topic paper T among the bundled ones and composes an abstract of
  about T's length from sentences of T and its 10 nearest bundled neighbours (TF-IDF cosine): the
  opening sentence from an opening sentence, the closing one from a closing sentence, at most two
  sentences per source paper, so the text stays on T's topic. Every reused sentence is perturbed so it
  is a distractor, not a copy of the answer: about 25% of its content words are swapped for a word that
  follows the same previous word elsewhere in the bundled abstracts (same vocabulary, locally
  grammatical), numbers are scaled by 0.6-1.4 (small integers and years kept), and names specific to
  one bundled paper (acronyms and CamelCase words used by that paper only, and a "Name:" title prefix)
  become a generated name made of parts of the corpus' own names (e.g. Remote+FME). Generic names
  used by several papers (CIFAR10, GPU, LLM) are kept.
* Titles: T's title with a third of its content words swapped for words that follow the same previous
  word in the bundled titles; "Name: description" titles get the generated name instead. Titles are
  unique after the loader's normalisation (the pipeline deduplicates by it), so the corpus has exactly
  N unique papers.

Hand-written rather than with a library because what is needed (recombine and perturb one small corpus,
byte-for-byte reproducibly, 100k papers in seconds) is a few dozen lines of `random` and `re`; language
models would be slow and non-deterministic across versions. Sentences are split by a regex for the same
reason (punkt's output could change with NLTK). These are still synthetic papers: recall at 10k/100k
measures how retrieval copes with many near-topic distractors, not how it would on 100k real papers.

    python -m bench.synth 10000 /tmp/synthetic-10000.jsonl      # time the generation alone
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rag.corpus.loader import BUNDLED_DIR, load_corpus
from rag.corpus.records import normalize_title
from rag.models import Paper

GENERATOR_VERSION = 1  # bump when the output for a given seed changes (invalidates cached corpora)
DEFAULT_SEED = 13
SUBSTITUTE_RATE = 0.25  # share of content words swapped in each reused sentence
TITLE_SUBSTITUTE_RATE = 0.34
NEIGHBOURS = 10
PUBMEDQA_SHARE = 0.10
PUBMEDQA_MAX = 1000

# Small, fixed stop list (not a library's, whose contents could change between versions).
STOPWORDS = frozenset(
    """a about above after again against all also although among an and any are as at be because been
    before being below between both but by can could did do does doing down during each either even ever
    few for from further had has have having here how however into is it its itself just less many may
    might more most much must neither no nor not now of off often on once one only onto or other others
    our ours out over own per rather same several shall should since so some such than that the their
    theirs them then there these they this those though three through thus to too two under until upon
    very via was we were what when where whether which while who whom whose why will with within without
    would yet""".split()
)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])")
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|et al|vs|cf|Fig|Eq|approx|resp|etc)\.)$", re.IGNORECASE)
_TOKEN = re.compile(
    r"\s+|\d{1,3}(?:,\d{3})+(?:\.\d+)?%?(?!\w)|\d+(?:\.\d+)?%?(?!\w|\.\d)|\w+(?:[-']\w+)*|[^\w\s]"
)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?%?")
_NAME_LIKE = re.compile(r"(?=[\w'-]*[A-Z][\w'-]*[A-Z0-9])[A-Za-z][\w'-]*")
_NAME_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z][a-z]+")
_CONTENT = re.compile(r"[a-z][a-z-]{3,}")
_WORD = re.compile(r"[a-z][a-z0-9-]+")
_TITLE_WORD = re.compile(r"[A-Za-z][a-z-]{3,}")
_PHRASE = "\ue000"  # stands for a paper's "Name:" title prefix inside its sentences
_NAME_SUFFIXES = ("", "", "", "", "-2", "++", "-X", "v2", "-L", "Net", "Former", "-R")


def split_sentences(text: str) -> list[str]:
    """Regex sentence split that keeps "e.g." and "et al." inside their sentence."""
    out: list[str] = []
    for part in _SENTENCE_END.split(text.strip()):
        if out and _ABBREV.search(out[-1]):
            out[-1] = f"{out[-1]} {part}"
        elif part:
            out.append(part)
    return out


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _is_name(tok: str) -> bool:
    return bool(_NAME_LIKE.fullmatch(tok))


def _title_phrase(title: str) -> tuple[str | None, str]:
    """("Latent Zoning Network", "A Unified Principle ...") for a short "Name: description" title."""
    head, sep, tail = title.partition(": ")
    if sep and tail and 1 <= len(head.split()) <= 5 and any(c.isupper() for c in head):
        return head, tail
    return None, title


@dataclass
class Template:
    """One bundled sentence (or title), tokenised once, with the positions that get perturbed."""

    tokens: list[str]
    numbers: list[tuple[int, float, int, bool, bool]] = field(default_factory=list)  # pos, value, decimals, %, 1,000
    names: list[tuple[int, int]] = field(default_factory=list)  # (position, name slot of its paper)
    content: list[tuple[int, list[str]]] = field(default_factory=list)  # (position, words seen after its previous)


@dataclass
class Source:
    phrase: str | None  # the "Name" of a "Name: description" title
    title: Template  # the description when there is a phrase, else the whole title
    sentences: list[Template]


def _number(tok: str) -> tuple[float, int, bool, bool] | None:
    """(value, decimals, percent, thousands separators) of a number worth perturbing; None to keep it."""
    pct = tok.endswith("%")
    core = tok.rstrip("%")
    commas = "," in core
    core = core.replace(",", "")
    decimals = len(core.partition(".")[2])
    value = float(core)
    if not decimals and not pct and (value < 10 or (1900 <= value <= 2100 and len(core) == 4)):
        return None  # small counts, enumerations and years stay
    return value, decimals, pct, commas


def perturb_number(value: float, decimals: int, pct: bool, commas: bool, u: float) -> str:
    """The same kind of number, scaled by 0.6 + 0.8u (u uniform in [0, 1))."""
    new = value * (0.6 + 0.8 * u)
    if pct and value <= 100:
        new = min(new, 99.9 if decimals else 99.0)
    text = f"{new:.{decimals}f}"
    if text == f"{value:.{decimals}f}":
        text = f"{value + 10 ** -decimals:.{decimals}f}"
    if commas and not decimals:
        text = f"{int(float(text)):,}"
    return text + ("%" if pct else "")


class Synthesizer:
    """Holds the bundled corpus, pre-tokenised, and writes corpora of any size from a seed."""

    def __init__(self, papers: list[Paper]):
        self.papers = papers
        self.bundled_titles = {normalize_title(p.title) for p in papers}
        docs = [f"{p.title} {p.abstract}" for p in papers]
        # names used by exactly one paper are that paper's own; the rest is shared vocabulary
        paper_freq: Counter[str] = Counter()
        per_paper: list[Counter[str]] = []
        for d in docs:
            c = Counter(t for t in _tokens(d) if _is_name(t))
            per_paper.append(c)
            paper_freq.update(c.keys())
        self.corpus_names = set(paper_freq)
        parts = {p for name in self.corpus_names for p in _NAME_PART.findall(name) if 2 <= len(p) <= 8}
        self.name_parts = sorted(parts)
        self._follow_abstract = self._bigrams([p.abstract for p in papers])
        self._follow_title = self._bigrams([p.title for p in papers], content_only=False)
        self.title_words = sorted(
            {w for p in papers for w in _tokens(p.title) if _TITLE_WORD.fullmatch(w) and w.lower() not in STOPWORDS}
        )
        self.neighbours = self._neighbours(docs)
        self.sources = [self._source(p, per_paper[i], paper_freq) for i, p in enumerate(papers)]

    # -- preparation ------------------------------------------------------------------------------
    @staticmethod
    def _bigrams(texts: list[str], content_only: bool = True) -> dict[str, list[str]]:
        """previous word (lower case) -> sorted words seen after it (content words only for abstracts)."""
        follow: dict[str, set[str]] = {}
        for text in texts:
            words = [t for t in _tokens(text) if not t.isspace()]
            for prev, word in zip(words, words[1:]):
                ok = _CONTENT.fullmatch(word) and word not in STOPWORDS
                if content_only and not ok:
                    continue
                if not content_only and not _TITLE_WORD.fullmatch(word):
                    continue
                follow.setdefault(prev.lower(), set()).add(word)
        return {k: sorted(v) for k, v in follow.items()}

    def _neighbours(self, docs: list[str]) -> list[list[int]]:
        """The NEIGHBOURS most similar bundled papers of each (TF-IDF cosine), most similar first."""
        import numpy as np

        vocab: dict[str, int] = {}
        rows = []
        for d in docs:
            c = Counter(w for w in _WORD.findall(d.lower()) if w not in STOPWORDS)
            rows.append({vocab.setdefault(w, len(vocab)): n for w, n in c.items()})
        m = np.zeros((len(docs), len(vocab)))
        for i, row in enumerate(rows):
            for j, n in row.items():
                m[i, j] = 1 + math.log(n)
        m *= np.log(len(docs) / (1 + (m > 0).sum(axis=0)))[None, :] + 1
        m /= np.linalg.norm(m, axis=1, keepdims=True) + 1e-12
        sim = m @ m.T
        np.fill_diagonal(sim, -1.0)
        order = np.argsort(-sim, axis=1, kind="stable")
        return [[int(j) for j in row[:NEIGHBOURS]] for row in order]

    def _source(self, paper: Paper, names: Counter[str], paper_freq: Counter[str]) -> Source:
        phrase, description = _title_phrase(paper.title)
        own = [n for n, _ in sorted(names.items(), key=lambda kv: -kv[1]) if paper_freq[n] == 1]
        slots = {n: i + (1 if phrase else 0) for i, n in enumerate(own)}
        text = paper.abstract.replace(phrase, _PHRASE) if phrase else paper.abstract
        templates = []
        for sentence in split_sentences(text):
            tpl = Template(_tokens(sentence))
            prev = ""
            for pos, tok in enumerate(tpl.tokens):
                if tok.isspace():
                    continue
                if tok == _PHRASE:
                    tpl.names.append((pos, 0))
                elif tok in slots:
                    tpl.names.append((pos, slots[tok]))
                elif _NUMBER.fullmatch(tok):
                    parsed = _number(tok)
                    if parsed:
                        tpl.numbers.append((pos, *parsed))
                elif _CONTENT.fullmatch(tok) and tok not in STOPWORDS:
                    choices = self._follow_abstract.get(prev.lower(), [])
                    if len(choices) > 1 or (choices and choices[0] != tok):
                        tpl.content.append((pos, choices))
                prev = tok
            templates.append(tpl)
        title = Template(_tokens(description))
        prev = ""
        for pos, tok in enumerate(title.tokens):
            if tok.isspace():
                continue
            if _TITLE_WORD.fullmatch(tok) and tok.lower() not in STOPWORDS:
                choices = [w for w in self._follow_title.get(prev.lower(), ()) if w.lower() != tok.lower()]
                choices = choices or [w for w in self.title_words if w.lower() != tok.lower()]
                if tok[0].isupper():
                    choices = [w[0].upper() + w[1:] for w in choices]
                title.content.append((pos, choices))
            prev = tok
        return Source(phrase, title, templates)

    # -- generation -------------------------------------------------------------------------------
    # rng.random() indexing rather than rng.choice/sample: same determinism, about 3x faster.
    def _new_name(self, r, taken: set[str]) -> str:
        parts, n = self.name_parts, len(self.name_parts)
        while True:
            a, b = parts[int(r() * n)], parts[int(r() * n)]
            name = a + b + _NAME_SUFFIXES[int(r() * len(_NAME_SUFFIXES))]
            if a != b and name not in taken and name not in self.corpus_names:
                taken.add(name)
                return name

    @staticmethod
    def _perturb(tpl: Template, rate: float, r, at_least_one: bool = False) -> list[str]:
        """The template's tokens with about `rate` of its content words swapped (numbers untouched)."""
        toks = list(tpl.tokens)
        content = tpl.content
        if content:
            m = int(len(content) * rate + r())
            if at_least_one:
                m = max(m, 1)
            for _ in range(m):
                pos, choices = content[int(r() * len(content))]
                i = int(r() * len(choices))
                word = choices[i]
                if word == tpl.tokens[pos]:
                    word = choices[(i + 1) % len(choices)]
                toks[pos] = word
        return toks

    def paper(self, i: int, rng: random.Random, seen_titles: set[str], taken_names: set[str], seed: int) -> dict:
        """The i-th synthetic paper; updates the sets of titles and names already used."""
        r = rng.random
        sources = self.sources
        t = int(r() * len(sources))
        topic = sources[t]
        pool = [t, *self.neighbours[t]]
        main = self._new_name(r, taken_names)
        names: dict[tuple[int, int], str] = {}

        n = min(max(len(topic.sentences), 3), 10)
        used: dict[int, int] = {}
        picked: set[tuple[int, int]] = set()
        sentences = []
        for j in range(n):
            for _ in range(4):
                p = pool[int(r() * len(pool))]
                if used.get(p, 0) < 2:
                    break
            src = sources[p].sentences
            if j == 0:
                idx = 0
            elif j == n - 1:
                idx = len(src) - 1
            else:
                idx = 1 + int(r() * (len(src) - 2)) if len(src) > 2 else int(r() * len(src))
            if (p, idx) in picked:
                idx = int(r() * len(src))
                if (p, idx) in picked:
                    continue
            picked.add((p, idx))
            used[p] = used.get(p, 0) + 1
            tpl = src[idx]
            toks = self._perturb(tpl, SUBSTITUTE_RATE, r)
            for pos, slot in tpl.names:
                if slot == 0:
                    toks[pos] = main
                else:
                    if (p, slot) not in names:
                        names[p, slot] = self._new_name(r, taken_names)
                    toks[pos] = names[p, slot]
            for pos, *num in tpl.numbers:
                toks[pos] = perturb_number(*num, r())
            sentences.append("".join(toks))

        for attempt in range(20):
            title = "".join(self._perturb(topic.title, TITLE_SUBSTITUTE_RATE, r, at_least_one=True))
            if topic.phrase or attempt >= 10:  # a generated name makes a collision-free title
                title = f"{main}: {title}"
            key = normalize_title(title)
            if key not in seen_titles:
                seen_titles.add(key)
                break
        else:  # pragma: no cover - main names are unique, so attempts 10+ cannot all collide
            raise RuntimeError(f"could not find a unique title for synthetic paper {i}")
        date = f"{2018 + int(r() * 8)}-{1 + int(r() * 12):02d}-{1 + int(r() * 28):02d}"
        return {"id": f"synth{seed}-{i:06d}", "title": title, "abstract": " ".join(sentences), "date": date}


def pubmedqa_records(path: Path) -> list[dict]:
    """PubMedQA's labelled abstracts as JSONL records (title = its question), in file order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for pmid, rec in data.items():
        abstract = " ".join(rec.get("CONTEXTS") or [])
        if rec.get("QUESTION") and abstract:
            year = str(rec.get("YEAR") or "")
            out.append(
                {
                    "id": f"pubmed-{pmid}",
                    "title": rec["QUESTION"],
                    "abstract": abstract,
                    "date": f"{year}-01-01" if year.isdigit() else None,
                }
            )
    return out


@dataclass
class SynthReport:
    """What `synthesize` wrote."""

    path: Path
    total_papers: int
    bundled: int
    synthetic: int
    pubmedqa: int
    seed: int
    seconds: float
    sha256: str


def bundled_papers() -> list[Paper]:
    papers, _, _, _ = load_corpus([BUNDLED_DIR])
    return papers


def synthesize(
    total: int, out: Path, seed: int = DEFAULT_SEED, pubmedqa: Path | None = None
) -> SynthReport:
    """Write the JSONL of extra papers that, with the bundled corpus, makes `total` unique papers."""
    t0 = time.perf_counter()
    papers = bundled_papers()
    extra = total - len(papers)
    if extra < 0:
        raise ValueError(f"corpus size {total} is below the {len(papers)} bundled papers: use sizes >= {len(papers)}")
    synth = Synthesizer(papers)
    rng = random.Random(seed)
    seen = set(synth.bundled_titles)
    records: list[dict] = []
    if pubmedqa is not None and extra:
        for rec in pubmedqa_records(pubmedqa)[: min(PUBMEDQA_MAX, int(extra * PUBMEDQA_SHARE))]:
            key = normalize_title(rec["title"])
            if key not in seen:
                seen.add(key)
                records.append(rec)
    n_pubmed = len(records)
    taken: set[str] = set()
    for i in range(extra - n_pubmed):
        records.append(synth.paper(i, rng, seen, taken, seed))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    digest = hashlib.sha256()
    with tmp.open("w", encoding="utf-8") as f:
        for rec in records:
            line = json.dumps(rec, ensure_ascii=False) + "\n"
            digest.update(line.encode())
            f.write(line)
    tmp.replace(out)
    seconds = round(time.perf_counter() - t0, 3)
    return SynthReport(out, total, len(papers), extra - n_pubmed, n_pubmed, seed, seconds, digest.hexdigest())


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Write a synthetic corpus (bundled + extra papers) as JSONL.")
    ap.add_argument("total", type=int, help="unique papers in the whole corpus, bundled ones included")
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--pubmedqa", type=Path, default=None, help="ori_pqal.json to mix in")
    a = ap.parse_args()
    r = synthesize(a.total, a.out, a.seed, a.pubmedqa)
    print(
        f"{r.path}: {r.synthetic} synthetic + {r.pubmedqa} PubMedQA papers (+ {r.bundled} bundled = "
        f"{r.total_papers}) in {r.seconds:.2f} s, sha256 {r.sha256[:12]}"
    )


if __name__ == "__main__":
    main()
