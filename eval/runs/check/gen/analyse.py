"""Replay the library's rule for the model's own answer (rag.llm.check.reply_withholds, gated by
rag.abstain.asks_detail) on the recorded v4 replies: how many questions it would withhold, per set.
Tuning sets only. A reply is taken as cut at the token limit when it is longer than 60 characters
(the records predate finish_reason being kept).

    .venv/bin/python eval/runs/check/gen/analyse.py eval/runs/check/gen/tuning.v4.jsonl [-v]
"""
import json, sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))
from rag.abstain import asks_detail  # noqa: E402
from rag.llm.check import reply_withholds  # noqa: E402

QUESTIONS = {}
for f in ("gold", "tune_near", "tune_extra"):
    for line in open(ROOT / f"eval/{f}.jsonl"):
        if line.strip() and not line.startswith("#"):
            d = json.loads(line)
            QUESTIONS[(f, d["id"])] = d["question"]


def why(r: dict, gated: bool = True) -> str | None:
    if gated and not asks_detail(r["question"]):
        return None
    return reply_withholds(r["reply"], len(r["reply"]) > 60, r["abstract"])


rows = [json.loads(line) for line in open(sys.argv[1])]
for r in rows:
    r["question"] = QUESTIONS[(r["set"], r["id"])]
for gated in (False, True):
    by = defaultdict(lambda: [0, 0, 0, 0])  # answerable n, withheld; unanswerable n, withheld
    for r in rows:
        b = by[r["set"]]
        i = 0 if r["answerable"] else 2
        b[i] += 1
        b[i + 1] += why(r, gated) is not None
    print("gated by asks_detail" if gated else "every question",
          {s: f"answerable withheld {b[1]}/{b[0]}, unanswerable withheld {b[3]}/{b[2]}" for s, b in by.items()})
if "-v" in sys.argv:
    for r in rows:
        w = why(r)
        if w:
            print("A" if r["answerable"] else "U", r["set"], r["id"], w, repr(r["reply"][:80]), "|", r["question"][:90])
