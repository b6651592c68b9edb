#!/usr/bin/env python
"""Answer latency with the embedded model, as the user sees it: sources shown, first generated token,
complete verified answer (p50/p95), per configuration — threads, KV-cache reuse, grammar, model.

    .venv/bin/python scripts/bench_llm.py --models qwen2.5-coder-1.5b,qwen2.5-coder-0.5b \
        --threads 1,2 --cache on,off --questions 20 --out eval/runs/bench_llm.json

Run it on an idle machine: llama.cpp's threads wait for each other when a core is busy elsewhere.
"Cache off" resets the model's KV cache before each question, so the fixed instructions and
examples are evaluated again (what every question would cost without prefix reuse). Questions are
the first answerable ones of eval/gold.jsonl, round-robin over types; each configuration first
answers one warm-up question (model load and the fixed prefix), not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from eval.dataset import DEFAULT_DATASET, load_dataset  # noqa: E402
from eval.metrics import percentile  # noqa: E402
from rag import Answer, Settings, Sources, ask_stream, ingest  # noqa: E402
from rag.llm import get_backend  # noqa: E402


def questions(n: int) -> list[str]:
    items = [i for i in load_dataset(DEFAULT_DATASET) if i.answerable]
    by_type: dict[str, list[str]] = {}
    for i in items:
        by_type.setdefault(i.type or "", []).append(i.question)
    out: list[str] = []
    while len(out) < n and any(by_type.values()):
        for qs in by_type.values():
            if qs and len(out) < n:
                out.append(qs.pop(0))
    return out


def run_config(base: Settings, model: str, threads: int, cache: bool, grammar: bool, qs: list[str]) -> dict:
    s = base.model_copy(
        update={
            "llm": base.llm.model_copy(update={"local_model": model, "n_threads": threads}),
            "answer": base.answer.model_copy(update={"mode": "llm", "llm_grammar": grammar}),
        }
    )
    backend = get_backend(s)
    rows = []
    for i, q in enumerate(["What is MTLoRA?", *qs]):
        if not cache:
            backend.llama.reset()
        t0 = time.perf_counter()
        seen: dict[str, float] = {}
        final = None
        for ev in ask_stream(q, settings=s):
            now = time.perf_counter() - t0
            if isinstance(ev, Sources):
                seen["sources"] = now
            elif isinstance(ev, str):
                seen.setdefault("first_token", now)
            elif isinstance(ev, Answer):
                final = ev
        seen["complete"] = time.perf_counter() - t0
        if i == 0:
            continue  # warm-up
        rows.append({"question": q, "abstained": final.abstained, "mode": final.mode, **seen,
                     "generate": final.timings.get("generate")})
        print(f"  {q[:60]!r}: sources {seen['sources']:.2f}s first {seen.get('first_token', float('nan')):.1f}s "
              f"complete {seen['complete']:.1f}s {final.mode}", file=sys.stderr, flush=True)
    out = {"model": model, "threads": threads, "cache": cache, "grammar": grammar, "n": len(rows), "rows": rows}
    for stage in ("sources", "first_token", "complete"):
        vals = [r[stage] for r in rows if stage in r]
        out[f"{stage}_p50"] = percentile(vals, 50)
        out[f"{stage}_p95"] = percentile(vals, 95)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="qwen2.5-coder-1.5b")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--cache", default="on")
    ap.add_argument("--grammar", default="off")
    ap.add_argument("--questions", type=int, default=20)
    ap.add_argument("--out", default="eval/runs/bench_llm.json")
    args = ap.parse_args()
    base = Settings()
    ingest(settings=base)
    qs = questions(args.questions)
    results = []
    for model in args.models.split(","):
        for threads in (int(t) for t in args.threads.split(",")):
            for cache in (c == "on" for c in args.cache.split(",")):
                for grammar in (g == "on" for g in args.grammar.split(",")):
                    print(f"{model} threads={threads} cache={cache} grammar={grammar}", file=sys.stderr)
                    results.append(run_config(base, model, threads, cache, grammar, qs))
    print("| model | threads | KV cache | grammar | sources p50 | first token p50 / p95 | complete p50 / p95 |")
    print("|---|---|---|---|---|---|---|")
    def f(x: float | None, digits: int = 1) -> str:
        return "–" if x is None else f"{x:.{digits}f}"

    for r in results:
        print(f"| {r['model']} | {r['threads']} | {'on' if r['cache'] else 'off'} | {'on' if r['grammar'] else 'off'} "
              f"| {f(r['sources_p50'], 2)} s | {f(r['first_token_p50'])} / {f(r['first_token_p95'])} s "
              f"| {f(r['complete_p50'])} / {f(r['complete_p95'])} s |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    meta = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "date": time.ctime()}
    Path(args.out).write_text(json.dumps({"machine": meta, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
