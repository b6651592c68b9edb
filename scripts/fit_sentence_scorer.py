#!/usr/bin/env python
"""Fit the extractive answer's sentence scorer (rag/sentence_rank.py) on tuning sets.

    RAG_DATA_DIR=<bundled index> python scripts/fit_sentence_scorer.py \\
        --train eval/gold.jsonl --train eval/tune_near.jsonl [--check eval/tune_near.jsonl] [--out F]

For every answerable question: the passages `retrieve()` gives, every sentence scored as the
extractive answerer scores it, the features of rag.sentence_rank, and the label "contains one of the
question's key facts (must_include) that its paper's title does not". A logistic regression
(sklearn, C below, on standardised features) is fitted on the --train sets and written to --out
(default rag/data/sentence_rank.json) with the scale that maps it to the composition's score units.
Prints, per set, how often the first-ranked sentence holds a key fact and how often one of the first
four does, for the plain score and the fitted one. The held-out set is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.dataset import load_dataset  # noqa: E402
from rag import retrieve  # noqa: E402
from rag.embeddings import get_embedder  # noqa: E402
from rag.extractive import score_sentences  # noqa: E402
from rag.retrieval import vocabulary  # noqa: E402
from rag.sentence_rank import FEATURES, WEIGHTS, features  # noqa: E402
from rag.settings import Settings, get_settings  # noqa: E402

C = 0.01  # chosen on eval/gold.jsonl by 5-fold cross-validation (0.01-1 alike), see eval/runs/sentence_rank
SCALE = 0.1  # chosen on eval/gold.jsonl: 0.05 quoted 30% more words, 0.2 lost key facts


def examples(path: Path, s: Settings) -> list[dict]:
    embedder, (df, n_docs) = get_embedder(s), vocabulary(s)
    out = []
    for item in load_dataset(path):
        if not item.answerable:
            continue
        passages = retrieve(item.question, settings=s)
        scored = score_sentences(item.question, passages, embedder)
        if not scored:
            continue
        facts = [f.lower() for f in item.must_include]
        label = [any(f in x.text.lower() and f not in passages[x.source].title.lower() for f in facts) for x in scored]
        out.append(
            {
                "X": features(item.question, scored, df, n_docs),
                "y": np.asarray(label, dtype=np.int8),
                "plain": np.asarray([x.score for x in scored]),
            }
        )
    return out


def ranking(rows: list[dict], score) -> tuple[float, float]:
    first = [r["y"][np.argmax(score(r))] for r in rows]
    four = [r["y"][np.argsort(-score(r))[:4]].max() for r in rows if r["y"].any()]
    return float(np.mean(first)), float(np.mean(four))


def fit(train: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(feature means, spreads, weights) of the logistic regression on these examples."""
    from sklearn.linear_model import LogisticRegression

    X = np.concatenate([r["X"] for r in train])
    y = np.concatenate([r["y"] for r in train])
    mean, std = X.mean(0), X.std(0) + 1e-9
    return mean, std, LogisticRegression(C=C, max_iter=5000).fit((X - mean) / std, y).coef_[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", type=Path, action="append", required=True)
    ap.add_argument("--check", type=Path, action="append", default=[], help="sets to report on (not fitted)")
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    args = ap.parse_args()
    if any("heldout" in p.name for p in args.train + args.check):
        raise SystemExit("the held-out set is for reporting only: fit on the tuning sets")
    settings = get_settings()
    sets = {p: examples(p, settings) for p in dict.fromkeys(args.train + args.check)}
    train = [r for p in args.train for r in sets[p]]
    mean, std, w = fit(train)
    y = np.concatenate([r["y"] for r in train])
    for p, rows in sets.items():
        plain = ranking(rows, lambda r: r["plain"])
        learned = ranking(rows, lambda r: ((r["X"] - mean) / std) @ w)
        role = "train" if p in args.train else "check"
        print(
            f"{p.name} ({role}, {len(rows)} questions): key fact in the first sentence {plain[0]:.3f} -> "
            f"{learned[0]:.3f}, in the first four {plain[1]:.3f} -> {learned[1]:.3f}"
        )
    model = {
        "features": list(FEATURES),
        "mean": [round(float(v), 6) for v in mean],
        "std": [round(float(v), 6) for v in std],
        "weights": [round(float(v), 6) for v in w],
        "scale": SCALE,
        "C": C,
        "trained_on": [p.name for p in args.train],
        "sentences": int(len(y)),
        "positives": int(y.sum()),
        "fitted": date.today().isoformat(),
    }
    tmp = args.out.with_name(f".{args.out.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(model, indent=1) + "\n")
    os.replace(tmp, args.out)  # a killed fit leaves the old weights, never half a file
    print(f"wrote {args.out}: " + ", ".join(f"{n} {v:+.2f}" for n, v in zip(FEATURES, w)))


if __name__ == "__main__":
    main()
