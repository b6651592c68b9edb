"""Exploratory, after the held-out runs (so biased): HyDE skipped for plural-paper questions.

    RAG_DATA_DIR=<bundled index> .venv/bin/python eval/runs/hyde/gate.py
"""
import json, re, sys
ROOT = __import__("pathlib").Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "scripts"))
from collections import defaultdict
from pathlib import Path
from measure_retrieval import load_items
from rag import retrieve
from rag.settings import get_settings
s = get_settings()
PLURAL = re.compile(r"\b(which|what)\s+(\w+\s+){0,3}?(papers|works|studies|articles|approaches|methods|models)\b|\bpapers\b", re.I)
cache = {}
for f in ("tuning", "heldout"):
    for l in open(ROOT / f"eval/runs/hyde/{f}.jsonl"):
        d = json.loads(l); cache[d["key"]] = d["hyp"]
for d in ("gold", "tune_extra", "heldout2", "heldout3"):
    agg = defaultdict(list)
    for it in load_items(ROOT / f"eval/{d}.jsonl"):
        hyp = cache[f"{d}:{it['id']}"]
        def rec(q):
            got = [p.paper_id for p in retrieve(q, k=5, settings=s)]
            return len(set(got) & set(it["gold"])) / len(set(it["gold"]))
        plain, both = rec(it["question"]), rec(it["question"] + " " + hyp)
        gated = plain if PLURAL.search(it["question"]) else both
        agg["question"].append(plain); agg["q+hyde"].append(both); agg["gated"].append(gated)
    print(d, {k: round(sum(v) / len(v), 3) for k, v in agg.items()})
