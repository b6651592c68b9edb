"""Retrieval latency on a large synthetic store, without embedding it: a published view built directly.

    python scripts/measure_scale.py --from /tmp/x --papers 100000 --out /tmp/scale100k --questions 40

Takes the published view of an ingested corpus (--from, e.g. the bundled 371 papers) and writes a
view of --papers papers: copies of its papers with a numbered title suffix, a few words of the
abstract dropped per copy, and the chunk vectors jittered (Gaussian noise, renormalised). Retrieval
over it does exactly the per-question work a real store of that size does (query embedding, the
dense product over every chunk, BM25 over the real vocabulary, filters, passages); only the
ingest is skipped. Prints build time and warm p50/p95 per mode and with a date filter; when the view
has an approximate dense index (rag/store/ann.py), also the exact scan's times on the same view and
how often the two give the same top-5 papers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.models import Filters  # noqa: E402
from rag.retrieval import retrieve_passages  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.store import view as views  # noqa: E402


def build(src: Settings, dst: Settings, n_papers: int, seed: int = 0) -> float:
    base = views.current(src)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    new: list[views.NewPaper] = []
    copy = 0
    while len(new) < n_papers:
        for i in range(base.n_papers):
            if len(new) >= n_papers:
                break
            rec = base.paper_record(i)
            rows = list(base.paper_chunk_range(i))
            words = rec["abstract"].split()
            if copy:
                drop = set(rng.choice(len(words), size=min(3, len(words)), replace=False).tolist())
                words = [w for j, w in enumerate(words) if j not in drop]
                rec = dict(rec, title=f"{rec['title']} (copy {copy})", paper_id=f"{rec['paper_id']}c{copy}")
            rec["abstract"] = " ".join(words)
            vecs = np.asarray(base.vectors[rows], dtype=np.float32)
            if copy:
                vecs = vecs + rng.normal(0, 0.03, vecs.shape).astype(np.float32)
            new.append(
                views.NewPaper(
                    record=rec,
                    digest=f"synthetic{copy}",
                    chunk_ids=[f"{rec['paper_id']}-synthetic-{j}" for j in range(len(rows))],
                    chunk_texts=[base.chunk_texts[r] for r in rows],
                    vectors=vecs,
                )
            )
        copy += 1
    meta = {"embedding_model": base.meta["embedding_model"], "collection": dst.index.collection, "synthetic": True}
    views.publish(dst, None, [], new, meta, int(base.meta["embedding_dim"]), 1)
    return time.perf_counter() - t0


def timed(settings: Settings, questions: list[str], mode: str, filters: Filters | None) -> dict:
    from rag.embeddings import get_embedder

    retrieve_passages(settings, "warm-up question about attention", 5, filters, mode)
    get_embedder(settings).encoder._queries.clear()  # every mode embeds its questions afresh
    times = []
    for q in questions:
        t = time.perf_counter()
        retrieve_passages(settings, q, 5, filters, mode)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(times[int(0.95 * len(times)) - 1], 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from", dest="src", type=Path, required=True, help="data dir of an ingested corpus")
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--out", type=Path, required=True, help="data dir for the synthetic view")
    ap.add_argument("--questions", type=int, default=40)
    ap.add_argument("--rebuild", action="store_true", help="build the view again (e.g. after changing settings)")
    args = ap.parse_args()
    src = Settings(_env_file=None, data_dir=args.src)
    dst = Settings(_env_file=None, data_dir=args.out)
    built = views.current(dst)
    if args.rebuild or built is None or built.n_papers != args.papers:
        print(json.dumps({"build_s": round(build(src, dst, args.papers), 1)}), flush=True)
    v = views.current(dst)
    qs = [json.loads(x)["question"] for x in (ROOT / "eval" / "gold.jsonl").read_text().splitlines()][: args.questions]
    out = {"papers": v.n_papers, "chunks": v.n_chunks, "ann": v.meta.get("ann")}
    year = Filters(date_from="2024-01-01", date_to="2024-12-31")
    for mode in ("hybrid", "dense", "bm25"):
        out[mode] = timed(dst, qs, mode, None)
    out["hybrid+date filter"] = timed(dst, qs, "hybrid", year)
    if v.ann is not None:
        exact = dst.model_copy(update={"retrieval": dst.retrieval.model_copy(update={"ann_min_chunks": 0})})
        out["exact: hybrid"] = timed(exact, qs, "hybrid", None)
        out["exact: dense"] = timed(exact, qs, "dense", None)
        out["exact: hybrid+date filter"] = timed(exact, qs, "hybrid", year)
        for mode in ("hybrid", "dense"):
            same = [
                [p.paper_id for p in retrieve_passages(dst, q, 5, None, mode)]
                == [p.paper_id for p in retrieve_passages(exact, q, 5, None, mode)]
                for q in qs
            ]
            out[f"same top-5 as exact: {mode}"] = round(sum(same) / len(same), 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
