"""Retrieval quality and latency of the current code on an index: the numbers behind issue 9's decisions.

    RAG_DATA_DIR=/tmp/x python scripts/measure_retrieval.py --ingest                 # bundled corpus
    python scripts/measure_retrieval.py --data /tmp/x --set eval/gold.jsonl --modes hybrid dense bm25
    python scripts/measure_retrieval.py --data /tmp/x --latency 40 --profile /tmp/after.prof
    python scripts/measure_retrieval.py --data /tmp/pmq --pubmedqa                   # PubMedQA recall@1/@5

Recall@5 is paper-level (the share of an item's gold papers among the first five). Latency is
warm: one question first loads everything, then each question is timed alone (p50/p95 in ms).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag import ingest, retrieve  # noqa: E402
from rag.corpus.records import paper_id_for  # noqa: E402
from rag.settings import Settings  # noqa: E402


def load_items(path: Path) -> list[dict]:
    items = [json.loads(x) for x in path.read_text().splitlines() if x.strip() and not x.startswith("#")]
    for it in items:
        it["gold"] = [paper_id_for(t) for t in it.get("gold_titles", [])] + it.get("gold_paper_ids", [])
    return [it for it in items if it.get("answerable", True) and it["gold"]]


def recall(items: list[dict], settings: Settings, mode: str, k: int = 5) -> tuple[float, list[dict]]:
    total, misses = 0.0, []
    for it in items:
        got = [p.paper_id for p in retrieve(it["question"], k=k, mode=mode, settings=settings)]
        r = len(set(got) & set(it["gold"])) / len(set(it["gold"]))
        total += r
        if r < 1:
            misses.append({"id": it.get("id"), "type": it.get("type"), "question": it["question"], "recall": r})
    return total / len(items), misses


def latency(settings: Settings, questions: list[str], profile: str | None) -> dict:
    retrieve("a warm-up question about attention", settings=settings)
    prof = cProfile.Profile() if profile else None
    times = []
    for q in questions:
        t = time.perf_counter()
        if prof:
            prof.enable()
        retrieve(q, k=5, settings=settings)
        if prof:
            prof.disable()
        times.append((time.perf_counter() - t) * 1000)
    if prof:
        prof.dump_stats(profile)
    times.sort()
    return {
        "n": len(times),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[max(0, int(0.95 * len(times)) - 1)], 2),
    }


def pubmedqa(settings: Settings, modes: list[str]) -> dict:
    from eval.pubmedqa import build_index, data_dir, index_settings, load, title_for

    records, _ = load(data_dir(settings))
    ps = index_settings(settings)
    built = build_index(ps, records)
    out = {"index": built}
    for mode in modes:
        r1 = r5 = 0
        for pmid, rec in records.items():
            got = [p.paper_id for p in retrieve(rec["QUESTION"], k=5, mode=mode, settings=ps)]
            want = paper_id_for(title_for(pmid))
            r1 += got[:1] == [want]
            r5 += want in got
        out[mode] = {"recall@1": round(r1 / len(records), 4), "recall@5": round(r5 / len(records), 4)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, help="data dir (default: RAG_DATA_DIR)")
    ap.add_argument("--ingest", action="store_true", help="ingest the bundled corpus first")
    ap.add_argument("--set", type=Path, action="append", default=[], help="JSONL question set(s)")
    ap.add_argument("--modes", nargs="+", default=["hybrid"])
    ap.add_argument("--latency", type=int, default=0, help="time this many gold questions")
    ap.add_argument("--profile", help="cProfile output of the timed questions")
    ap.add_argument("--pubmedqa", action="store_true")
    ap.add_argument("--misses", action="store_true", help="print the questions not fully recalled")
    args = ap.parse_args()
    settings = Settings(data_dir=args.data) if args.data else Settings()
    if args.ingest:
        t = time.perf_counter()
        report = ingest(settings=settings)
        print(json.dumps({"ingest_s": round(time.perf_counter() - t, 2), "chunks": report.chunks_written}))
    for path in args.set:
        items = load_items(path)
        for mode in args.modes:
            r, misses = recall(items, settings, mode)
            print(json.dumps({"set": path.name, "mode": mode, "items": len(items), "recall@5": round(r, 4)}))
            if args.misses:
                for m in misses:
                    print("   miss", json.dumps(m))
    if args.latency:
        qs = [it["question"] for it in load_items(ROOT / "eval" / "gold.jsonl")][: args.latency]
        print(json.dumps({"latency": latency(settings, qs, args.profile)}))
    if args.pubmedqa:
        print(json.dumps({"pubmedqa": pubmedqa(settings, args.modes)}))


if __name__ == "__main__":
    main()
