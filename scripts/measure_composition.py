"""Sweep the extractive answer's coverage steps (rag/coverage.py) on a question set.

    RAG_DATA_DIR=<bundled index> python scripts/measure_composition.py --set eval/gold.jsonl \
        --grid '{"PLURAL_MARGIN": [0.15, 0.25, 0.35], "COVER_MIN_GAIN": [2, 4, 6]}'
    RAG_DATA_DIR=<bundled index> python scripts/measure_composition.py --set eval/gold.jsonl \
        --grid '{"answer.show_names": [false, true], "PLURAL": [false, true], "COVER": [false, true]}'

For each combination of rag.coverage constants (`COVER`), rag.extractive constants
(`extractive.FIGURE_NAMED`) and settings (`answer.show_names`): key-fact recall of the answerable
questions (overall and by type), abstention recall and false abstention, answer length in words,
and for "which papers" questions the paper-level precision / recall of the cited papers against the
gold papers. Choose on the tuning set (eval/gold.jsonl) only; the held-out set only confirms.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import statistics as st
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.dataset import load_dataset  # noqa: E402
from eval.metrics import key_fact_recall  # noqa: E402
from rag import abstain, ask, coverage, extractive  # noqa: E402
from rag.settings import AnswerSettings, Settings  # noqa: E402


def run(items: list[dict], settings: Settings) -> dict:
    by_type: dict[str, list[float]] = collections.defaultdict(list)
    words, precision, recall, withheld, lost = [], [], [], [], []
    for item in items:
        answer = ask(item["question"], settings=settings)
        if not item["answerable"]:
            withheld.append(answer.abstained)
            continue
        lost.append(answer.abstained)
        text = "" if answer.abstained else answer.text
        by_type[item["type"]].append(key_fact_recall(text, item["must_include"]) or 0.0)
        if not answer.abstained:
            words.append(len(text.split()))
        if coverage.asks_many(item["question"]):
            cited = [c.title for c in answer.citations]
            gold = [t[:40] for t in item["gold_titles"]]
            hits = sum(any(c.startswith(g) for g in gold) for c in cited)
            precision.append(hits / len(cited) if cited else 0.0)
            recall.append(sum(any(c.startswith(g) for c in cited) for g in gold) / len(gold))
    every = [x for v in by_type.values() for x in v]
    return {
        "key_fact_recall": round(st.mean(every), 3),
        "by_type": {k: round(st.mean(v), 3) for k, v in by_type.items()},
        "abstention_recall": round(st.mean(withheld), 3) if withheld else None,
        "false_abstention": round(st.mean(lost), 3),
        "words_mean": round(st.mean(words)) if words else 0,
        "plural_questions": len(precision),
        "paper_precision": round(st.mean(precision), 3) if precision else None,
        "paper_recall": round(st.mean(recall), 3) if recall else None,
    }


def _target(name: str) -> tuple[object | None, str]:
    """Where a grid key lives: (None, field) for answer.<field>, else (module, constant)."""
    head, _, field = name.partition(".")
    if head == "answer" and field in AnswerSettings.model_fields:
        return None, field
    for module in (extractive, coverage, abstain):
        if head == module.__name__.rpartition(".")[2] and hasattr(module, field):
            return module, field
    if hasattr(coverage, name):
        return coverage, name
    raise SystemExit(f"{name}: not a rag.coverage constant, extractive.<constant> or answer.<field> setting")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default="eval/gold.jsonl", help="question set (JSONL with must_include)")
    ap.add_argument("--grid", default="{}", help="JSON object: constant or answer.<field> -> values to try")
    args = ap.parse_args()
    items = [i.model_dump() for i in load_dataset(args.set)]
    grid = json.loads(args.grid)
    base = Settings()  # the quoted answer alone: the model check (answer.model_check) can be put in the grid
    base = base.model_copy(update={"answer": base.answer.model_copy(update={"model_check": False})})
    targets = [_target(name) for name in grid]
    for combo in itertools.product(*grid.values()) if grid else [()]:
        answer = {}
        for (where, field), value in zip(targets, combo, strict=True):
            if where is None:
                answer[field] = value
            else:
                setattr(where, field, value)
        settings = base.model_copy(update={"answer": base.answer.model_copy(update=answer)})
        print(json.dumps({"set": dict(zip(grid, combo, strict=True)), **run(items, settings)}), flush=True)


if __name__ == "__main__":
    main()
