"""Measure paper-level recall@5 on eval/gold.jsonl for several chunk sizes (tiktoken tokens).

    python scripts/measure_chunk_size.py --sizes 192,256,384,512
Each size gets its own temporary index; prints recall@5 per retrieval mode and the chunk count.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from rag import ingest, retrieve, stats
from rag.corpus.records import paper_id_for
from rag.settings import Settings


def recall_at_5(items: list[dict], settings: Settings, mode: str) -> float:
    total = 0.0
    for it in items:
        gold = {paper_id_for(t) for t in it["gold_titles"]}
        got = {p.paper_id for p in retrieve(it["question"], k=5, mode=mode, settings=settings)}
        total += len(gold & got) / len(gold)
    return total / len(items)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="192,256,384,512")
    ap.add_argument("--dataset", type=Path, default=Path(__file__).parent.parent / "eval" / "gold.jsonl")
    args = ap.parse_args()
    items = [json.loads(x) for x in args.dataset.read_text().splitlines()]
    items = [it for it in items if it["answerable"]]
    print("chunk_size  chunks  hybrid  dense   bm25")
    for size in map(int, args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            s = Settings(_env_file=None, data_dir=Path(tmp), index={"chunk_size": size, "chunk_overlap": size // 8})
            ingest(settings=s)
            row = [recall_at_5(items, s, m) for m in ("hybrid", "dense", "bm25")]
            print(f"{size:10d}  {stats(s).chunks:6d}  " + "  ".join(f"{r:.3f}" for r in row))


if __name__ == "__main__":
    main()
