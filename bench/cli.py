"""`rag bench` / `python -m bench`: speed, memory and recall at growing corpus sizes, side by side.

rag bench                                   # 371 and 10,000 papers: ours, BM25 alone, plain LlamaIndex
rag bench --sizes 371,10000,100000          # the full run (hours on a 2-core CPU: embedding 100k papers)
rag bench --sizes 600 --questions 20        # a quick look
rag bench --answer-modes extractive,llm     # quotes alone and generated answers (seconds per question)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def bench_command(
    sizes: Annotated[str, typer.Option(help="Corpus sizes in papers, comma-separated (>= 371, the bundled ones).")] = (
        "371,10000"
    ),
    systems: Annotated[
        str,
        typer.Option(
            help="ours (hybrid), bm25, dense (our modes), server (ours on a `chroma run` started on 127.0.0.1) "
            "and llamaindex (the plain pipeline)."
        ),
    ] = "ours,bm25,llamaindex",
    questions: Annotated[
        Optional[int], typer.Option(help="Questions per query run, evenly spread (default: all).", min=2)
    ] = None,
    ask_questions: Annotated[
        int, typer.Option(help="Questions answered with ask() in extractive mode (quotes alone); 0 skips.", min=0)
    ] = 20,
    answer_modes: Annotated[
        str,
        typer.Option(
            help="ask() modes to time: extractive (quotes alone), extractive-check (quotes checked by the "
            "local model: the default answer), llm, auto."
        ),
    ] = "extractive,extractive-check",
    check_questions: Annotated[
        int, typer.Option(help="Questions answered in extractive-check mode (loads the 1.5B); 0 skips.", min=0)
    ] = 10,
    llm_questions: Annotated[int, typer.Option(help="Questions answered per llm/auto mode.", min=0)] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic corpora.")] = 13,
    pubmedqa: Annotated[
        bool, typer.Option(help="Mix PubMedQA's abstracts into synthetic corpora when the file is present.")
    ] = True,
    fresh: Annotated[bool, typer.Option(help="Re-synthesize corpora and rebuild every store (re-embeds).")] = False,
    data_dir: Annotated[
        Optional[Path], typer.Option(help="Where corpora and stores are cached (default: <RAG_DATA_DIR>/bench).")
    ] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default: bench/results/<timestamp>).")] = None,
    repeat: Annotated[int, typer.Option(help="Passes over the questions for warm latencies.", min=1)] = 1,
    k: Annotated[int, typer.Option(help="Papers per question (recall@k).", min=1, max=50)] = 5,
) -> None:
    """Benchmark ingest, retrieval and answer speed, memory and recall at growing corpus sizes."""
    from bench.run import BenchConfig, BenchError, run_bench

    try:
        size_list = [int(s.replace("_", "")) for s in _csv(sizes)]
    except ValueError:
        raise BenchError(f"--sizes {sizes!r}: give whole numbers, e.g. 371,10000") from None
    cfg = BenchConfig(
        sizes=size_list,
        systems=_csv(systems),
        seed=seed,
        pubmedqa=pubmedqa,
        fresh=fresh,
        data_dir=data_dir,
        out=out,
        questions=questions,
        ask_questions=ask_questions,
        answer_modes=_csv(answer_modes),
        check_questions=check_questions,
        llm_questions=llm_questions,
        k=k,
        repeat=repeat,
    )
    run_bench(cfg)
