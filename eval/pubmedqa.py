"""PubMedQA (Jin et al., 2019) as an external benchmark, read from ../shared/benchmarks/pubmedqa.

* Retrieval: the 1,000 expert-labeled abstracts (CONTEXTS joined) go into their own collection
  ("pubmedqa", in <data_dir>/pubmedqa); each question should retrieve its own abstract. Recall@1/@5
  and MRR for hybrid, BM25-only and dense-only.
* Accuracy: yes/no/maybe on the 500 test ids (or a fixed sample of `limit` of them: the ids with
  the smallest sha1, since the ground-truth file is sorted by label and its first 276 ids are all
  "yes"), answered by the configured LLM (an OpenAI-compatible endpoint, else the embedded
  llama.cpp model) from the question's own abstract ("gold", the reasoning-required setting) or
  the top retrieved abstracts. Published anchors on that split: majority 55.2%, BioBERT 68.1%,
  single human 78.0% (reasoning-required setting). The sample's own majority rate is reported too.

The data is never copied into the repository: the abstracts go to a temporary JSONL for ingest.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from eval.metrics import recall_at_k, reciprocal_rank
from rag.api import ingest, retrieve
from rag.corpus.records import paper_id_for
from rag.errors import ConfigError, LLMError, RagError
from rag.llm import Prompt, get_backend
from rag.settings import Settings

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO.parent / "shared" / "benchmarks" / "pubmedqa"
ANCHORS = {"majority": 0.552, "BioBERT": 0.681, "single human": 0.780}
LABELS = ("yes", "no", "maybe")
PROMPT = """Answer the research question using the abstract(s) below.

{context}

Question: {question}
Reply with one word: yes, no, or maybe."""


class BenchmarkMissing(RagError):
    """The benchmark files are not on this machine."""


def data_dir(settings: Settings) -> Path:
    return Path(settings.eval.pubmedqa_dir or DEFAULT_DIR)


def load(folder: Path) -> tuple[dict[str, dict], dict[str, str]]:
    """(pmid -> record, test pmid -> label); BenchmarkMissing when the folder is absent."""
    main, truth = folder / "ori_pqal.json", folder / "test_ground_truth.json"
    if not main.is_file():
        raise BenchmarkMissing(f"PubMedQA not found at {main}: set RAG_EVAL__PUBMEDQA_DIR")
    records = json.loads(main.read_text())
    labels = json.loads(truth.read_text()) if truth.is_file() else {}
    return records, labels


def title_for(pmid: str) -> str:
    return f"PMID {pmid}"


def index_settings(settings: Settings) -> Settings:
    """Its own collection and data dir, so the abstracts corpus is never touched."""
    folder = settings.eval.pubmedqa_data_dir or settings.data_dir / "pubmedqa"
    return settings.model_copy(
        update={
            "data_dir": Path(folder),
            "index": settings.index.model_copy(update={"collection": "pubmedqa"}),
        }
    )


def build_index(settings: Settings, records: dict[str, dict], progress: bool = False) -> dict:
    """Ingest the abstracts (a no-op when unchanged); returns the ingest report and seconds."""
    with tempfile.TemporaryDirectory(prefix="pubmedqa-") as tmp:
        path = Path(tmp) / "pubmedqa.jsonl"
        with path.open("w") as f:
            for pmid, rec in records.items():
                abstract = " ".join(rec.get("CONTEXTS") or [])
                f.write(json.dumps({"title": title_for(pmid), "abstract": abstract, "year": rec.get("YEAR")}) + "\n")
        t0 = time.perf_counter()
        report = ingest([path], settings=settings, progress=progress)
        seconds = time.perf_counter() - t0
    return {
        "papers": report.papers,
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "chunks_written": report.chunks_written,
        "skipped": len(report.skipped),
        "seconds": round(seconds, 2),
    }


def retrieval_eval(
    settings: Settings,
    records: dict[str, dict],
    modes=("hybrid", "bm25", "dense"),
    workers: int = 2,
    progress: bool = True,
) -> dict[str, dict]:
    """Recall@1/@5 and MRR@5 of each question's own abstract, per retrieval mode."""
    from tqdm import tqdm

    out: dict[str, dict] = {}
    items = [(paper_id_for(title_for(pmid)), rec["QUESTION"]) for pmid, rec in records.items()]
    for mode in modes:
        t0 = time.perf_counter()
        bar = tqdm(total=len(items), desc=f"pubmedqa {mode}", disable=not progress, unit="q", dynamic_ncols=True)

        def one(item: tuple[str, str], mode: str = mode, bar=bar) -> list[str]:
            ranked = [p.paper_id for p in retrieve(item[1], 5, mode=mode, settings=settings)]
            bar.update(1)
            return ranked

        with ThreadPoolExecutor(max_workers=max(1, min(workers, 2))) as pool:
            ranked = list(pool.map(one, items))
        bar.close()
        pairs = [(r, [g]) for r, (g, _) in zip(ranked, items, strict=True)]
        n = len(pairs)
        out[mode] = {
            "n": n,
            "recall@1": round(sum(recall_at_k(r, g, 1) for r, g in pairs) / n, 4),
            "recall@5": round(sum(recall_at_k(r, g, 5) for r, g in pairs) / n, 4),
            "mrr@5": round(sum(reciprocal_rank(r, g) for r, g in pairs) / n, 4),
            "seconds": round(time.perf_counter() - t0, 2),
        }
    return out


def parse_label(reply: str) -> str | None:
    """The first yes/no/maybe word of a reply."""
    m = re.search(r"\b(yes|no|maybe)\b", reply.lower())
    return m.group(1) if m else None


def sample_ids(ids: list[str], limit: int | None) -> list[str]:
    """A fixed sample of `limit` ids, independent of the file's order: the ids with the smallest sha1.

    test_ground_truth.json lists its ids grouped by label (276 "yes" first), so its first N are
    not a sample at all; a hash order is deterministic and keeps the label mix."""
    if not limit or limit >= len(ids):
        return ids
    return sorted(ids, key=lambda pmid: hashlib.sha1(pmid.encode()).hexdigest())[:limit]


def accuracy_eval(
    settings: Settings,
    records: dict[str, dict],
    labels: dict[str, str],
    *,
    k: int = 3,
    context: str = "gold",
    limit: int | None = None,
    workers: int = 2,
    progress: bool = True,
) -> dict:
    """yes/no/maybe accuracy on `limit` test ids (a fixed sample, see sample_ids) with the configured LLM."""
    from tqdm import tqdm

    if context not in ("retrieved", "gold"):
        raise ConfigError(f"unknown PubMedQA context '{context}': use retrieved or gold")
    backend = get_backend(settings)
    ids = sample_ids([pmid for pmid in labels if pmid in records], limit)
    bar = tqdm(total=len(ids), desc="pubmedqa accuracy", disable=not progress, unit="q", dynamic_ncols=True)

    def one(pmid: str) -> dict:
        rec = records[pmid]
        try:
            if context == "gold":
                ctx = " ".join(rec.get("CONTEXTS") or [])
            else:
                passages = retrieve(rec["QUESTION"], k, settings=settings)
                ctx = "\n\n".join(f"[{i}] {p.text}" for i, p in enumerate(passages, start=1))
            text = PROMPT.format(context=ctx, question=rec["QUESTION"])
            reply = backend.complete(Prompt(text=text + "\nAnswer:", messages=[{"role": "user", "content": text}]), 16)
            return {"id": pmid, "gold": labels[pmid], "pred": parse_label(reply), "reply": reply[:200]}
        except LLMError as exc:
            return {"id": pmid, "gold": labels[pmid], "pred": None, "error": str(exc)}
        finally:
            bar.update(1)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, min(workers, 2))) as pool:
        rows = list(pool.map(one, ids))
    bar.close()
    n = len(rows)
    correct = sum(r["pred"] == r["gold"] for r in rows)
    confusion = Counter(f"{r['gold']}->{r['pred']}" for r in rows)
    per_label = {}
    for lab in LABELS:
        tp = sum(r["pred"] == lab and r["gold"] == lab for r in rows)
        pp = sum(r["pred"] == lab for r in rows)
        gp = sum(r["gold"] == lab for r in rows)
        p, rc = (tp / pp if pp else 0.0), (tp / gp if gp else 0.0)
        per_label[lab] = {
            "precision": round(p, 4),
            "recall": round(rc, 4),
            "f1": round(2 * p * rc / (p + rc), 4) if p + rc else 0.0,
        }
    return {
        "model": backend.name,
        "majority_in_sample": round(max(Counter(r["gold"] for r in rows).values()) / n, 4) if n else None,
        "context": context if context == "gold" else f"top-{k} retrieved (hybrid)",
        "n": n,
        "accuracy": round(correct / n, 4) if n else None,
        "macro_f1": round(sum(v["f1"] for v in per_label.values()) / 3, 4),
        "per_label": per_label,
        "unparsed": sum(r["pred"] is None for r in rows),
        "errors": sum("error" in r for r in rows),
        "confusion": dict(sorted(confusion.items())),
        "anchors": ANCHORS,
        "seconds": round(time.perf_counter() - t0, 2),
        "rows": rows,
    }


def run_pubmedqa(
    settings: Settings,
    *,
    accuracy: bool = True,
    context: str = "gold",
    k: int = 3,
    limit: int | None = None,
    sample: int | None = 250,
    workers: int = 2,
    progress: bool = True,
) -> dict:
    """The whole benchmark: index, retrieval per mode, and (if asked) accuracy on `sample` test ids."""
    try:
        records, labels = load(data_dir(settings))
    except BenchmarkMissing as exc:
        return {"skipped": str(exc)}
    if limit:
        keep = list(records)[:limit]
        records = {k: records[k] for k in keep}
    ps = index_settings(settings)
    result: dict = {"records": len(records), "test_ids": len(labels), "data_dir": str(ps.data_dir)}
    result["index"] = build_index(ps, records, progress=progress)
    result["retrieval"] = retrieval_eval(ps, records, workers=workers, progress=progress)
    if accuracy:
        result["accuracy"] = accuracy_eval(
            ps, records, labels, k=k, context=context, limit=sample, workers=workers, progress=progress
        )
    return result
