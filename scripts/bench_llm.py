#!/usr/bin/env python
"""Benchmark the embedded LLM: time to first token and generation speed, median of several runs.

The prompt is the real answer prompt (rag.generate.build_prompt) over bundled abstracts, so the
prompt length is what users get. Each run uses a different question and resets llama.cpp's
state, so no run reuses another's evaluated prompt. Not a test: numbers depend on the machine
and on what else runs on it (the load average is recorded next to them).

    .venv/bin/python scripts/bench_llm.py --runs 5 --out eval/runs/bench_llm.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUESTIONS = [
    "What does this work propose, and how much does it improve over prior methods?",
    "Which datasets are used in the experiments, and what are the main results?",
    "What problem do these papers address, and what is the key idea?",
    "How is the method evaluated, and what are its limitations?",
    "What numbers do the abstracts report for speed or accuracy?",
    "Which of these papers is about efficiency, and what does it make faster?",
    "What is new compared with earlier approaches in these abstracts?",
]


def _passages(n: int):
    from rag.corpus.loader import BUNDLED_DIR, load_corpus
    from rag.models import Passage

    papers, _, _, _ = load_corpus([BUNDLED_DIR])
    return [Passage(paper_id=p.paper_id, title=p.title, text=p.abstract, score=1.0) for p in papers[:n]]


def run(args: argparse.Namespace) -> dict:
    from rag.generate import build_prompt
    from rag.llm.budget import pack_sources
    from rag.llm.llamacpp_backend import LlamaCppBackend
    from rag.settings import Settings

    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="bench-llm-"))
    llm = {"backend": "llamacpp", "n_ctx": args.n_ctx, "max_tokens": args.max_tokens, "temperature": 0.0}
    if args.gguf:
        llm["gguf_path"] = args.gguf
    if args.threads:
        llm["n_threads"] = args.threads
    settings = Settings(_env_file=None, data_dir=data_dir, llm=llm)

    t = time.perf_counter()
    backend = LlamaCppBackend(settings)
    load_s = time.perf_counter() - t
    passages = _passages(args.sources)

    runs = []
    for i in range(args.runs):
        question = QUESTIONS[i % len(QUESTIONS)]
        packed = pack_sources(
            passages, lambda s, q=question: build_prompt(q, s), backend.prompt_tokens,
            backend.context_window, args.max_tokens,
        )  # fmt: skip
        backend.llama.reset()  # forget the previous prompt: every run evaluates its prompt in full
        t0 = time.perf_counter()
        first = None
        n_chunks = 0
        text = []
        # no stop sequences, so each run generates max_tokens and tok/s is measured over a full answer
        prompt = dataclasses.replace(packed.prompt, stop=[])
        for delta in backend.stream(prompt, args.max_tokens):
            if first is None:
                first = time.perf_counter()
            n_chunks += 1
            text.append(delta)
        end = time.perf_counter()
        generated = len(backend.llama.tokenize("".join(text).encode(), add_bos=False)) if text else 0
        ttft = (first or end) - t0
        gen_s = end - (first or end)
        gen_rate = round((generated - 1) / gen_s, 2) if generated > 1 and gen_s > 0 else None
        runs.append(
            {
                "question": question,
                "prompt_tokens": packed.prompt_tokens,
                "sources": len(packed.sources),
                "generated_tokens": generated,
                "ttft_s": round(ttft, 3),
                "prompt_tokens_per_s": round(packed.prompt_tokens / ttft, 1) if ttft > 0 else None,
                # the first token arrives at ttft; the rest are generation proper
                "gen_tokens_per_s": gen_rate,
                "total_s": round(end - t0, 3),
            }
        )
        print(
            f"run {i + 1}/{args.runs}: prompt {packed.prompt_tokens} tok, ttft {ttft:.2f} s, "
            f"{generated} tok generated, {runs[-1]['gen_tokens_per_s']} tok/s",
            flush=True,
        )

    def median(key: str) -> float | None:
        vals = [r[key] for r in runs if r[key] is not None]
        return round(statistics.median(vals), 3) if vals else None

    return {
        "model": backend.name,
        "gguf": str(backend.path),
        "n_ctx": backend.context_window,
        "n_threads": backend.llama.n_threads,
        "max_tokens": args.max_tokens,
        "runs": runs,
        "load_s": round(load_s, 3),
        "median_ttft_s": median("ttft_s"),
        "median_prompt_tokens": median("prompt_tokens"),
        "median_prompt_tokens_per_s": median("prompt_tokens_per_s"),
        "median_gen_tokens_per_s": median("gen_tokens_per_s"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "loadavg_1m_after": round(os.getloadavg()[0], 2),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sources", type=int, default=3, help="abstracts in the prompt (default 3)")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--n-ctx", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: all cores)")
    ap.add_argument("--gguf", default=None, help="a GGUF file (default: the packaged Gemma-3 270M)")
    ap.add_argument("--data-dir", default=None, help="where the default model is assembled (default: temp)")
    ap.add_argument("--out", default="eval/runs/bench_llm.json")
    args = ap.parse_args()
    result = {"loadavg_1m_before": round(os.getloadavg()[0], 2), **run(args)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{result['model']}: median TTFT {result['median_ttft_s']} s for {result['median_prompt_tokens']} "
        f"prompt tokens ({result['median_prompt_tokens_per_s']} tok/s prompt), median generation "
        f"{result['median_gen_tokens_per_s']} tok/s; load {result['load_s']} s "
        f"(load average {result['loadavg_1m_before']} -> {result['machine']['loadavg_1m_after']}) -> {out}"
    )


if __name__ == "__main__":
    main()
