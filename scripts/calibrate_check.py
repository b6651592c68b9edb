#!/usr/bin/env python
"""Calibrate the model check (rag.llm.check) on the tuning set: when does the local model's
P(the quotes answer the question) withhold an extractive answer, and how low may the evidence bar
go when the check runs?

    RAG_DATA_DIR=<bundled index> python scripts/calibrate_check.py --out eval/runs/check/gold.1.5b.jsonl
    RAG_ANSWER__MODEL_CHECK_READS=abstract ... --out eval/runs/check/gold.1.5b.abstract.jsonl
    ... --dataset eval/gold.jsonl --dataset eval/tune_near.jsonl --out ...   (both tuning sets)

For every question: the evidence score and whether the figure or name check withholds it
(rag.extractive.draft_answer), the quoted answer with every abstention switched off (what the
model reads, so every question gets a probability), its key-fact recall, and P(yes) from
`p_answers`. Reports the ROC AUC of P(yes) for answerable vs unanswerable questions, then replays
"abstain when the figure/name check fires, or the evidence score < e, or P(yes) < c" over a grid:
abstention recall, false abstention, key-fact recall. The chosen (e, c) maximises abstention recall
+ key-fact recall with false abstention <= 5%: c is the median of the optimal pairs' c, e the
midpoint of the optimal run of e at that c. Records go to --out (one JSON line per question; a
re-run resumes). Never run this on the held-out set: it is refused.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.dataset import load_dataset  # noqa: E402
from eval.metrics import key_fact_recall  # noqa: E402
from rag import ask, retrieve  # noqa: E402
from rag.embeddings import get_embedder  # noqa: E402
from rag.extractive import draft_answer  # noqa: E402
from rag.llm.check import p_answers, reading  # noqa: E402
from rag.retrieval import vocabulary  # noqa: E402
from rag.settings import Settings, get_settings  # noqa: E402

MAX_FALSE_ABSTENTION = 0.05
CHECKS = [round(0.05 * i, 2) for i in range(0, 20)]
EVIDENCE = [round(0.02 * i, 2) for i in range(0, 31)]


def with_answer(s: Settings, **update) -> Settings:
    return s.model_copy(update={"answer": s.answer.model_copy(update=update)})


def collect(dataset: Path, out: Path) -> list[dict]:
    s = get_settings()
    a = s.answer
    open_ = with_answer(s, model_check=False, abstain_threshold=-9.0, figure_check_papers=0, name_check=False)
    vocab, embedder = vocabulary(s), get_embedder(s)
    done = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())} if out.exists() else {}
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for item in load_dataset(dataset):
        if item.id in done:
            rows.append(done[item.id])
            continue
        passages = retrieve(item.question, settings=s)
        d = draft_answer(item.question, passages, embedder, vocab, float("-inf"), a.max_sentences,
                         a.figure_check_papers, a.name_check, a.name_check_max_share, a.show_names)
        quoted = ask(item.question, settings=open_)
        t = time.perf_counter()
        p = p_answers(s, item.question, reading(s, quoted.text, passages)) if not quoted.abstained else 0.0
        row = {
            "id": item.id,
            "type": item.type,
            "answerable": item.answerable,
            "score": round(d.confidence, 4),
            "decided": d.decided,
            "quoted": not quoted.abstained,
            "p_yes": round(p, 4),
            "key_fact_recall": (key_fact_recall(quoted.text, item.must_include) or 0.0) if item.answerable else None,
            "seconds": round(time.perf_counter() - t, 2),
        }
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        rows.append(row)
        print(row, flush=True)
    return rows


def auc(rows: list[dict]) -> float | None:
    pos = [r["p_yes"] for r in rows if r["answerable"]]
    neg = [r["p_yes"] for r in rows if not r["answerable"]]
    if not pos or not neg:
        return None
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def replay(rows: list[dict], e: float, c: float) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def withheld(r: dict) -> bool:
        return r["decided"] or not r["quoted"] or r["score"] < e or r["p_yes"] < c

    return {
        "evidence": e,
        "check": c,
        "abstention_recall": sum(map(withheld, unanswerable)) / len(unanswerable),
        "false_abstention": sum(map(withheld, answerable)) / len(answerable),
        "key_fact_recall": sum(0.0 if withheld(r) else r["key_fact_recall"] for r in answerable) / len(answerable),
    }


def choose(results: list[dict]) -> tuple[float, float]:
    ok = [r for r in results if r["false_abstention"] <= MAX_FALSE_ABSTENTION]
    best = max(round(r["abstention_recall"] + r["key_fact_recall"], 6) for r in ok)
    top = [r for r in ok if round(r["abstention_recall"] + r["key_fact_recall"], 6) == best]
    c = statistics.median_low(sorted(r["check"] for r in top))
    run = sorted(r["evidence"] for r in top if r["check"] == c)
    return round((run[0] + run[-1]) / 2, 3), c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, action="append", default=[],
                    help="a tuning set (repeatable; default eval/gold.jsonl); records share --out, ids must differ")
    ap.add_argument("--out", type=Path, required=True, help="JSONL records (resumed if present)")
    args = ap.parse_args()
    datasets = args.dataset or [ROOT / "eval" / "gold.jsonl"]
    if any("heldout" in d.name for d in datasets):
        raise SystemExit("the held-out set is for reporting only: calibrate on eval/gold.jsonl")
    rows = [r for d in datasets for r in collect(d, args.out)]
    print(f"ROC AUC of P(yes), all {len(rows)} questions: {auc(rows):.3f}")
    current = get_settings().answer.abstain_threshold
    print(f"without the check (evidence {current}): " + json.dumps(replay(rows, current, 0.0)))
    for c in CHECKS:
        print(json.dumps({k: round(v, 3) for k, v in replay(rows, current, c).items()}))
    results = [replay(rows, e, c) for e in EVIDENCE for c in CHECKS]
    e, c = choose(results)
    print(f"chosen: model_check_evidence_threshold {e}, model_check_threshold {c} "
          f"(false abstention <= {MAX_FALSE_ABSTENTION}): " + json.dumps(replay(rows, e, c)))


if __name__ == "__main__":
    main()
