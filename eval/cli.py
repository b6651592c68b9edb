"""`rag eval` / `python -m eval`: run the evaluation and write a run folder.

rag eval                                     # gold set, hybrid/dense/bm25 at k=5, PubMedQA retrieval
rag eval --configs hybrid-k5,llm --limit 20  # a quick look at LLM answers
rag eval --no-pubmedqa --out /tmp/run        # gold set only, to a chosen folder
"""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

RUNS_DIR = Path(__file__).resolve().parent / "runs"


def _prepare_index(settings, ingest_first: bool) -> tuple[str, set[str]]:
    """Make sure the bundled corpus is indexed; describe the index; its paper ids."""
    from rag.api import ingest, stats
    from rag.index import Index

    if ingest_first:
        ingest(settings=settings)
    st = stats(settings)
    return f"{st.papers} papers, {st.chunks} chunks in {st.store} ({st.collection})", set(Index(settings).catalog())


def _checker_results() -> dict:
    from eval.checker import CHECKER_SET, NATURAL_SET, evaluate, load_checker_set, offline_check

    out = {}
    for name, path, split in (
        ("templated set, test split", CHECKER_SET, "test"),
        ("hand-written natural set", NATURAL_SET, "natural"),
    ):
        if not path.is_file():
            out[name] = {"error": f"{path.name} not found: run python -m eval.build_checker_set"}
            continue
        out[name] = evaluate(load_checker_set(path), offline_check(), split)
    return out


def run_eval(
    dataset: Path | None = None,
    configs: str | None = None,
    out: Path | None = None,
    *,
    limit: int | None = None,
    workers: int | None = None,
    judge: bool = True,
    checker: bool = True,
    pubmedqa: bool = True,
    pubmedqa_accuracy: bool = False,
    pubmedqa_limit: int | None = None,
    pubmedqa_sample: int = 250,
    pubmedqa_context: str = "gold",
    ingest_first: bool = True,
    progress: bool = True,
    settings=None,
    echo=print,
) -> Path:
    """The whole evaluation; returns the run folder."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from eval import report
    from eval.configs import DEFAULT_CONFIGS, llm_status, parse_configs
    from eval.dataset import DEFAULT_DATASET, load_dataset
    from eval.llm import answer_endpoint, judge_endpoint
    from eval.runner import run
    from eval.summary import summarize, summarize_by_type
    from rag.settings import get_settings

    settings = settings or get_settings()
    t0 = time.perf_counter()
    dataset = Path(dataset or DEFAULT_DATASET)
    items = load_dataset(dataset)[: limit or None]
    notes: list[str] = []
    if configs is None and answer_endpoint(settings) is not None:
        configs = ",".join((*DEFAULT_CONFIGS, "llm"))
    elif configs is None:
        available, status = llm_status(settings)
        notes.append(
            "llm config not in the default set without an OpenAI-compatible endpoint ("
            + (
                "the local llama.cpp backend is available: add it with `--configs hybrid-k5,llm`)"
                if available
                else f"{status})"
            )
        )
    chosen = parse_configs(configs)
    run_id = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = Path(out) if out else RUNS_DIR / run_id
    folder.mkdir(parents=True, exist_ok=True)

    index_desc, indexed = _prepare_index(settings, ingest_first)
    missing = sorted({g for it in items for g in it.gold_ids} - indexed)
    if missing:
        notes.append(
            f"{len(missing)} gold paper(s) are not in the index (e.g. {missing[0]}): retrieval scores are capped"
        )
    echo(f"{len(items)} questions x {len(chosen)} configs -> {folder}")
    runs = run(items, chosen, settings, workers=workers, use_judge=judge, progress=progress, on_skip=echo)
    summaries = {r.config.name: summarize(r.records) for r in runs if not r.skipped}
    by_type = {r.config.name: summarize_by_type(r.records) for r in runs if not r.skipped}

    checker_res = None
    if checker:
        checker_res = _checker_results()
    pubmed = None
    if pubmedqa:
        from eval.pubmedqa import run_pubmedqa

        echo("PubMedQA: indexing and retrieval")
        pubmed = run_pubmedqa(
            settings,
            accuracy=pubmedqa_accuracy,
            context=pubmedqa_context,
            limit=pubmedqa_limit,
            sample=pubmedqa_sample,
            workers=workers or settings.eval.workers,
            progress=progress,
        )
        if "skipped" in pubmed:
            echo(f"PubMedQA skipped: {pubmed['skipped']}")

    report.write_results(folder, runs)
    plots = [
        p
        for p in (
            report.plot_metrics(folder, summaries),
            report.plot_latency(folder, runs),
            report.plot_by_type(folder, by_type),
        )
        if p
    ]
    jep = judge_endpoint(settings) if judge else None
    meta = {
        "run_id": run_id,
        "dataset": str(dataset),
        "items": len(items),
        "index": index_desc,
        "workers": max(1, min(workers or settings.eval.workers, 2)),
        "judge": jep.describe() if jep else None,
        "notes": notes,
        "seconds": time.perf_counter() - t0,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    summary = {
        "meta": meta,
        "configs": {
            r.config.name: {
                "k": r.config.k,
                "retrieval_mode": r.config.retrieval_mode,
                "answer_mode": r.config.answer_mode,
                "seconds": r.seconds,
                "skipped": r.skipped,
                "note": r.note,
            }
            for r in runs
        },
        "summary": summaries,
        "by_type": by_type,
        "checker": {
            k: {kk: vv for kk, vv in v.items() if kk not in ("missed", "false_flags")}
            for k, v in (checker_res or {}).items()
        },
        "pubmedqa": {k: v for k, v in (pubmed or {}).items() if k != "accuracy"}
        | (
            {"accuracy": {k: v for k, v in pubmed["accuracy"].items() if k != "rows"}}
            if pubmed and "accuracy" in pubmed
            else {}
        ),
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if pubmed and pubmed.get("accuracy", {}).get("rows"):
        with (folder / "pubmedqa_answers.jsonl").open("w") as f:
            for row in pubmed["accuracy"]["rows"]:
                f.write(json.dumps(row) + "\n")
    (folder / "report.md").write_text(report.render(meta, runs, summaries, by_type, checker_res, pubmed, plots))
    echo(f"report: {folder / 'report.md'}")
    return folder


def eval_command(
    dataset: Annotated[Optional[Path], typer.Option(help="JSONL dataset. Default: eval/gold.jsonl.")] = None,
    configs: Annotated[
        Optional[str],
        typer.Option(
            help="Comma-separated: hybrid-k5, dense-k5, bm25-k5, hybrid-k3, hybrid-k10, extractive, llm. "
            "Default: hybrid-k5,dense-k5,bm25-k5 (+ llm when an LLM endpoint is configured)."
        ),
    ] = None,
    out: Annotated[Optional[Path], typer.Option(help="Run folder. Default: eval/runs/<timestamp>/.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Only the first N questions.")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Questions in parallel (1 or 2).")] = None,
    judge: Annotated[bool, typer.Option(help="LLM-judge faithfulness when RAG_EVAL__JUDGE_* is set.")] = True,
    checker: Annotated[bool, typer.Option(help="Score the offline checker on its labeled sets.")] = True,
    pubmedqa: Annotated[bool, typer.Option(help="PubMedQA retrieval (and accuracy with an LLM).")] = True,
    pubmedqa_accuracy: Annotated[
        bool,
        typer.Option(help="PubMedQA yes/no/maybe accuracy with the configured LLM (embedded: ~10 s a question)."),
    ] = False,
    pubmedqa_limit: Annotated[Optional[int], typer.Option(help="Only the first N PubMedQA records.")] = None,
    pubmedqa_sample: Annotated[
        int, typer.Option(help="Accuracy on N test ids (a fixed hash-ordered sample; 500 = the whole test split).")
    ] = 250,
    pubmedqa_context: Annotated[
        str,
        typer.Option(
            help="Context for PubMedQA accuracy: retrieved (top-3, the RAG setting) or gold (the "
            "question's own abstract, the setting of the published anchors)."
        ),
    ] = "gold",
    ingest: Annotated[bool, typer.Option(help="Ingest the bundled corpus first (a no-op when indexed).")] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Evaluate retrieval, answers, faithfulness, citations and abstention; write a report."""
    run_eval(
        dataset,
        configs,
        out,
        limit=limit,
        workers=workers,
        judge=judge,
        checker=checker,
        pubmedqa=pubmedqa,
        pubmedqa_accuracy=pubmedqa_accuracy,
        pubmedqa_limit=pubmedqa_limit,
        pubmedqa_sample=pubmedqa_sample,
        pubmedqa_context=pubmedqa_context,
        ingest_first=ingest,
        progress=not quiet,
        echo=typer.echo,
    )
