#!/usr/bin/env python
"""Calibrate when LLM mode abstains, on the tuning set only, from recorded answers.

    .venv/bin/python -m eval.answer_modes --modes extractive,llm-1.5b --datasets gold \
        --set answer.llm_abstain_threshold=-9 --out eval/runs/calib
    .venv/bin/python scripts/calibrate_llm_abstention.py eval/runs/calib/gold.extractive.jsonl \
        eval/runs/calib/gold.llm-1.5b.jsonl

The LLM run must let the model see every question (threshold -9), so each record says what the
model did; the policy is then replayed offline for every setting:
  * evidence score < `llm_abstain_threshold`  -> abstain without asking the model;
  * the model says the sources don't answer    -> abstain, unless the evidence score is at least
    `llm_decline_override`, where the extractive answer is given instead;
  * nothing the model wrote survives the gate  -> `llm_unsupported`: abstain or the extractive answer.
The chosen setting maximises key-fact recall + abstention recall with false abstention <= 5%.
Never run this on the held-out set.
"""

from __future__ import annotations

import json
import sys
from itertools import product
from pathlib import Path

from eval.answer_modes import load_records, summarize

MAX_FALSE_ABSTENTION = 0.05


def outcome(llm: dict, ext: dict, t_low: float, t_over: float, unsupported: str) -> dict:
    """The record the user would have got under this policy."""
    abstain = {**llm, "abstained": True, "sentences": 0, "unsupported": 0, "citation_precision": None,
               "citation_recall": None, "cites_gold": False if llm["answerable"] else None,
               "key_fact_recall": 0.0 if llm["answerable"] and llm["key_fact_recall"] is not None else None}
    extractive = {**ext, "mode": "extractive-fallback"} if not ext["abstained"] else abstain
    if llm["confidence"] < t_low:
        return abstain
    declined = llm["abstained"] and llm["mode"].startswith("llm:")
    if declined:
        return extractive if llm["confidence"] >= t_over else abstain
    if llm["mode"] == "extractive-fallback":  # nothing generated survived the gate
        return extractive if unsupported == "extractive" else abstain
    return llm


def main(ext_path: str, llm_path: str) -> int:
    ext = {r["id"]: r for r in load_records(Path(ext_path))}
    llm = {r["id"]: r for r in load_records(Path(llm_path))}
    ids = [i for i in llm if i in ext]
    lows = [-9.0] + [round(0.30 + 0.05 * i, 2) for i in range(9)]
    overs = [round(0.60 + 0.05 * i, 2) for i in range(11)] + [9.0]
    rows = []
    for t_low, t_over, unsupported in product(lows, overs, ("abstain", "extractive")):
        s = summarize([outcome(llm[i], ext[i], t_low, t_over, unsupported) for i in ids])
        rows.append((t_low, t_over, unsupported, s))
    def score(r) -> float:
        return (r[3]["key_fact_recall"] or 0) + (r[3]["abstention_recall"] or 0)

    ok = [r for r in rows if (r[3]["false_abstention"] or 0) <= MAX_FALSE_ABSTENTION]
    best = max(ok or rows, key=score)
    as_is = next(r for r in rows if r[0] == -9.0 and r[1] == 9.0 and r[2] == "extractive")

    def show(label: str, r) -> None:
        s = r[3]
        print(f"{label}: llm_abstain_threshold={r[0]} llm_decline_override={r[1]} llm_unsupported={r[2]} -> "
              f"key-fact recall {s['key_fact_recall']:.3f}, all facts {s['all_key_facts']:.3f}, "
              f"abstention recall {s['abstention_recall']:.3f}, false abstention {s['false_abstention']:.3f}, "
              f"unsupported {s['unsupported_rate'] or 0:.3f}")

    print(f"{len(ids)} questions ({sum(llm[i]['answerable'] for i in ids)} answerable)")
    show("model alone (no threshold, no override)", as_is)
    for cap in (0.05, 0.075, 0.10, 0.15):
        capped = [r for r in rows if (r[3]["false_abstention"] or 0) <= cap]
        if capped:
            show(f"best with false abstention <= {cap:.3f}", max(capped, key=score))
    show("chosen", best)
    chosen = {"llm_abstain_threshold": best[0], "llm_decline_override": best[1], "llm_unsupported": best[2]}
    out = Path(llm_path).with_suffix(".calibration.json")
    out.write_text(json.dumps({"chosen": chosen, "summary": best[3]}, indent=2))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
