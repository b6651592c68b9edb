"""Build eval/checker_set.jsonl: labeled (sentence, cited papers) pairs that test the citation checker.

Faithful items are real abstract sentences (verbatim, lightly paraphrased, or cited together with
an unrelated second paper) citing their own paper. Unfaithful items are made by one edit: a number
swapped, a method/dataset name swapped for one from another abstract, the claim negated, a
sentence from another paper cited to this one, or a correct sentence citing the nearest (most
similar) other paper. Half of the edited items are also paraphrased so that the checker cannot
rely on near-verbatim matches. Items are split dev/test by the paper the sentence comes from, so
tuning on dev never sees a test paper's sentences.

    python -m eval.build_checker_set [--out eval/checker_set.jsonl] [--seed 13] [--per-type 150]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
from collections import Counter
from pathlib import Path

from eval.perturb import names_in, negate, paraphrase, swap_entity, swap_number
from rag.corpus.loader import load_corpus
from rag.lexical import content_stems
from rag.models import Paper
from rag.text import cite, split_sentences

DEFAULT_OUT = Path(__file__).resolve().parent / "checker_set.jsonl"
TYPES = ("faithful", "number_swap", "entity_swap", "negation", "unsupported_added", "wrong_paper")
_GENERIC = re.compile(
    r"https?://|github|\bcode\b.*\b(?:available|released|public)|will be (?:released|made)", re.I
)


def split_of(paper_id: str, seed: int) -> str:
    digest = hashlib.sha1(f"{seed}:{paper_id}".encode()).digest()
    return "dev" if digest[0] % 2 == 0 else "test"


def _tfidf_neighbours(papers: list[Paper]) -> dict[str, list[str]]:
    """paper_id -> other paper ids, most similar first (TF-IDF cosine of title + abstract)."""
    docs = [Counter(content_stems(f"{p.title} {p.abstract}")) for p in papers]
    df: Counter = Counter()
    for d in docs:
        df.update(d.keys())
    n = len(docs)
    vecs = []
    for d in docs:
        v = {w: (1 + math.log(c)) * math.log(n / df[w]) for w, c in d.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        vecs.append({w: x / norm for w, x in v.items()})
    out: dict[str, list[str]] = {}
    for i, p in enumerate(papers):
        sims = []
        for j, q in enumerate(papers):
            if i == j:
                continue
            a, b = (vecs[i], vecs[j]) if len(vecs[i]) < len(vecs[j]) else (vecs[j], vecs[i])
            sims.append((sum(x * b.get(w, 0.0) for w, x in a.items()), q.paper_id))
        # near-duplicates (the same paper under two titles) would make a "wrong" citation right
        out[p.paper_id] = [pid for s, pid in sorted(sims, reverse=True) if s < 0.8]
    return out


def _usable(sentence: str) -> bool:
    words = sentence.split()
    return (
        8 <= len(words) <= 60
        and not sentence.rstrip().endswith("?")  # questions are not claims
        and not _GENERIC.search(sentence)
        and len(set(content_stems(sentence))) >= 6
    )


def build(seed: int = 13, per_type: int = 150) -> list[dict]:
    """The labeled items, deterministic for a seed (and the bundled corpus)."""
    rng = random.Random(seed)
    papers, _, _, _ = load_corpus()
    papers = sorted(papers, key=lambda p: p.paper_id)
    by_id = {p.paper_id: p for p in papers}
    neighbours = _tfidf_neighbours(papers)
    pool = [(p.paper_id, s) for p in papers for s in split_sentences(p.abstract) if _usable(s)]
    rng.shuffle(pool)
    used: set[tuple[str, str]] = set()
    foreign: dict[str, list[str]] = {
        p.paper_id: sorted({n for s in split_sentences(p.abstract) for n in names_in(s)}) for p in papers
    }

    items: list[dict] = []

    def ref(pid: str) -> dict:
        return {"paper_id": pid, "title": by_id[pid].title}

    def add(kind: str, variant: str, sentence: str, cited: list[str], source_pid: str, original: str) -> None:
        numbers = list(range(1, len(cited) + 1))
        items.append(
            {
                "type": kind,
                "variant": variant,
                "label": "faithful" if kind == "faithful" else "unfaithful",
                "split": split_of(source_pid, seed),
                "sentence": cite(sentence, numbers),
                "cited": [ref(pid) for pid in cited],
                "source_paper_id": source_pid,
                "original": original,
            }
        )

    def take(count: int, make) -> None:
        """Walk the shuffled pool, applying `make` to unused sentences: count/2 items per split."""
        for split in ("dev", "test"):
            made, want = 0, count // 2 + (count % 2 if split == "test" else 0)
            for key in pool:
                if made >= want:
                    break
                if key in used or split_of(key[0], seed) != split:
                    continue
                if make(*key):
                    used.add(key)
                    made += 1

    def other_paper(pid: str) -> str:
        while True:
            q = rng.choice(papers).paper_id
            if q != pid and q not in neighbours[pid][:3] and q in neighbours[pid]:
                return q

    def maybe_para(s: str) -> tuple[str, str]:
        if rng.random() < 0.5:
            para = paraphrase(s, rng, truncate=False)
            if para:
                return para, "+para"
        return s, ""

    # faithful: verbatim, paraphrased, and cited together with an unrelated second paper
    n_verbatim, n_multi = per_type // 3, per_type // 5
    n_para = per_type - n_verbatim - n_multi

    def verbatim(pid: str, s: str) -> bool:
        add("faithful", "verbatim", s, [pid], pid, s)
        return True

    def para(pid: str, s: str) -> bool:
        p = paraphrase(s, rng)
        if p:
            add("faithful", "paraphrase", p, [pid], pid, s)
        return p is not None

    def multi(pid: str, s: str) -> bool:
        other = other_paper(pid)
        cited = [pid, other] if rng.random() < 0.5 else [other, pid]
        text, tag = maybe_para(s)
        add("faithful", "multi_cite" + tag, text, cited, pid, s)
        return True

    take(n_verbatim, verbatim)
    take(n_para, para)
    take(n_multi, multi)

    # number swaps: two thirds to a new value, one third to another number of the same abstract
    def numbers(internal: bool):
        def make(pid: str, s: str) -> bool:
            out = swap_number(s, by_id[pid].abstract, rng, internal)
            if not out:
                return False
            text, tag = maybe_para(out)
            add("number_swap", ("internal" if internal else "new") + tag, text, [pid], pid, s)
            return True

        return make

    take(per_type - per_type // 3, numbers(False))
    take(per_type // 3, numbers(True))

    def entity(pid: str, s: str) -> bool:
        donor = other_paper(pid)
        out = swap_entity(s, by_id[pid].abstract, foreign[donor], rng)
        if not out:
            return False
        text, tag = maybe_para(out)
        add("entity_swap", "foreign_name" + tag, text, [pid], pid, s)
        return True

    take(per_type, entity)

    def negation(pid: str, s: str) -> bool:
        out = negate(s, rng)
        if not out:
            return False
        text, tag = maybe_para(out[0])
        add("negation", out[1] + tag, text, [pid], pid, s)
        return True

    take(per_type, negation)

    def unsupported(pid: str, s: str) -> bool:
        target = other_paper(pid)
        text, tag = maybe_para(s)
        add("unsupported_added", "random_paper" + tag, text, [target], pid, s)
        return True

    take(per_type, unsupported)

    def wrong(pid: str, s: str) -> bool:
        target = neighbours[pid][0]
        text, tag = maybe_para(s)
        add("wrong_paper", "nearest_paper" + tag, text, [target], pid, s)
        return True

    take(per_type, wrong)

    for i, item in enumerate(items, start=1):
        item["id"] = f"c{i:04d}"
    return [{"id": it.pop("id"), **it} for it in items]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--per-type", type=int, default=150)
    args = ap.parse_args(argv)
    items = build(args.seed, args.per_type)
    with args.out.open("w") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    counts = Counter((it["type"], it["split"]) for it in items)
    print(f"wrote {len(items)} items to {args.out}")
    for t in TYPES:
        print(f"  {t:18s} dev {counts[(t, 'dev')]:4d}  test {counts[(t, 'test')]:4d}")


if __name__ == "__main__":
    main()
