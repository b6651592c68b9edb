"""Calibrate the abstention threshold on the hand-written gold set.

For every gold question it records the extractive evidence score, then sweeps thresholds:
false-abstention rate on answerable questions vs abstention recall on unanswerable ones.
The chosen threshold maximises abstention recall with false abstention at most --max-false
(default 5%), the lowest such threshold on ties; a 5-fold cross-validated estimate shows how well
that choice transfers. The figure and name checks (answer.figure_check_papers, answer.name_check)
run as configured: a question they withhold is withheld at every threshold, so the threshold is
calibrated for what they leave.

    RAG_DATA_DIR=/tmp/rag-cal python scripts/calibrate_abstention.py [--dataset eval/gold.jsonl]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from rag import ingest, retrieve
from rag.embeddings import get_embedder
from rag.extractive import draft_answer
from rag.retrieval import vocabulary
from rag.settings import get_settings


def collect(dataset: Path) -> list[dict]:
    s = get_settings()
    vocab = vocabulary(s)
    embedder = get_embedder(s)
    rows = []
    for line in dataset.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        item = json.loads(line)
        passages = retrieve(item["question"], k=s.retrieval.k)
        a = s.answer
        d = draft_answer(
            item["question"],
            passages,
            embedder,
            vocab,
            float("-inf"),
            a.max_sentences,
            a.figure_check_papers,
            a.name_check,
            a.name_check_max_share,
        )
        rows.append(
            {
                "answerable": item["answerable"],
                "score": d.confidence,
                "decided": d.decided,
                "question": item["question"],
            }
        )
    return rows


def rates(rows: list[dict], t: float) -> tuple[float, float]:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]

    def withheld(r: dict) -> bool:
        return r["decided"] or r["score"] < t

    return sum(map(withheld, ans)) / len(ans), sum(map(withheld, una)) / len(una)


def choose(rows: list[dict], max_false: float) -> float:
    grid = sorted({round(r["score"], 3) for r in rows} | {0.0})
    best_t, best_recall = grid[0], -1.0
    for t in grid:
        false_abst, recall = rates(rows, t)
        if false_abst <= max_false and recall > best_recall:
            best_t, best_recall = t, recall
    return best_t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, default=Path(__file__).parent.parent / "eval" / "gold.jsonl")
    ap.add_argument("--max-false", type=float, default=0.05)
    args = ap.parse_args()
    ingest()  # a no-op when the bundled corpus is already indexed
    rows = collect(args.dataset)

    print("threshold  false-abstention(answerable)  abstention-recall(unanswerable)")
    for t in [0.40, 0.45, 0.50, 0.52, 0.54, 0.55, 0.56, 0.58, 0.60, 0.65]:
        f, r = rates(rows, t)
        print(f"{t:9.2f}  {f:28.3f}  {r:31.3f}")
    t = choose(rows, args.max_false)
    f, r = rates(rows, t)
    n_ans = sum(r_["answerable"] for r_ in rows)
    print(
        f"\nchosen threshold {t:.3f}: false abstention {f:.3f} on {n_ans} answerable, "
        f"abstention recall {r:.3f} on {len(rows) - n_ans} unanswerable"
    )

    random.Random(0).shuffle(rows)
    folds = [rows[i::5] for i in range(5)]
    cv_f, cv_r = [], []
    for i, test in enumerate(folds):
        train = [r_ for j, fold in enumerate(folds) if j != i for r_ in fold]
        ft, rt = rates(test, choose(train, args.max_false))
        cv_f.append(ft)
        cv_r.append(rt)
    print(f"5-fold cross-validated: false abstention {sum(cv_f) / 5:.3f}, abstention recall {sum(cv_r) / 5:.3f}")
    still = [r_["question"] for r_ in rows if not r_["answerable"] and not r_["decided"] and r_["score"] >= t]
    print(f"\nunanswerable questions still answered at {t:.3f}:")
    for q in still:
        print("  -", q)


if __name__ == "__main__":
    main()
