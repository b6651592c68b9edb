"""Replay the check's thresholds over these records (tuning sets only): ROC AUC, chosen (e, c), and the
tuning-set trade-off per set.  Run from the repository root:

    .venv/bin/python eval/runs/check/near/replay.py v1 v2 v3
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT)]
from calibrate_check import CHECKS, EVIDENCE, auc, choose, replay  # noqa: E402

FILES = {
    "v1": [ROOT / "eval/runs/check/gold.1.5b.abstract.jsonl", HERE / "near.v1.jsonl"],
    "v2": [HERE / "gold.v2.jsonl", HERE / "near.v2.jsonl"],
    "v3": [HERE / "all.v3.jsonl"],
}
base = {r["id"]: r for f in FILES["v1"] for r in map(json.loads, f.read_text().splitlines())}
for name in sys.argv[1:] or list(FILES):
    rows = [r for f in FILES[name] for r in map(json.loads, f.read_text().splitlines())]
    for r in rows:  # the v3 readout script records P only: the rest comes from the v1 records
        for k in ("score", "decided", "key_fact_recall", "quoted"):
            r.setdefault(k, base[r["id"]][k])
    g = [r for r in rows if r["id"].startswith("g")]
    t = [r for r in rows if r["id"].startswith("t")]
    e, c = choose([replay(rows, e, c) for e in EVIDENCE for c in CHECKS])
    f = lambda d: {k: round(v, 3) for k, v in d.items() if k not in ("evidence", "check")}  # noqa: E731
    print(f"{name}: AUC all {auc(rows):.3f}, gold {auc(g):.3f}, near {auc(t):.3f}; chosen e={e} c={c}")
    print("   gold", f(replay(g, e, c)), "near", f(replay(t, e, c)))
    for c in (0.4, 0.5, 0.6):
        print(f"   c={c} e=0.25 gold", f(replay(g, 0.25, c)), "near", f(replay(t, 0.25, c)))
