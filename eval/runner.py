"""Run ask() over a dataset for each configuration: bounded concurrency, a progress bar, and one
result record per (configuration, question) with everything the metrics and the report need.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from eval.configs import EvalConfig, llm_status
from eval.dataset import GoldItem
from eval.faithfulness import score_answer
from eval.judge import judge_answer
from eval.llm import ChatClient, judge_endpoint
from eval.metrics import hit_at_k, key_fact_recall, ndcg_at_k, recall_at_k, reciprocal_rank
from rag.api import ask, retrieve
from rag.errors import RagError
from rag.settings import Settings

RANK_DEPTH = 10  # papers retrieved for the ranking metrics (MRR, nDCG@10)


@dataclass
class ConfigRun:
    config: EvalConfig
    records: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str | None = None  # why the configuration did not run
    note: str | None = None


def evaluate_item(item: GoldItem, cfg: EvalConfig, settings: Settings, judge: ChatClient | None) -> dict:
    """Answer one question under one configuration and score it."""
    rec: dict[str, Any] = {
        "config": cfg.name,
        "id": item.id,
        "type": item.type,
        "question": item.question,
        "answerable": item.answerable,
        "gold_ids": item.gold_ids,
        "must_include": item.must_include,
    }
    t0 = time.perf_counter()
    answer = ask(item.question, k=cfg.k, mode=cfg.retrieval_mode, settings=settings)
    rec["latency_s"] = round(time.perf_counter() - t0, 4)
    ranked = [
        p.paper_id
        for p in retrieve(item.question, max(RANK_DEPTH, cfg.k), mode=cfg.retrieval_mode, settings=settings)
    ]
    rec.update(
        answer=answer.text,
        answer_mode=answer.mode,
        abstained=answer.abstained,
        confidence=answer.confidence,
        citations=[{"number": c.number, "paper_id": c.paper_id, "title": c.title} for c in answer.citations],
        sources=[p.paper_id for p in answer.sources],
        ranked=ranked,
        removed=[{"text": r.text, "reasons": r.reasons} for r in answer.removed],
        timings=answer.timings,
    )
    m: dict[str, float | None] = {}
    if item.answerable:
        gold = item.gold_ids
        m.update(
            {
                "hit@k": hit_at_k(ranked, gold, cfg.k),
                "recall@k": recall_at_k(ranked, gold, cfg.k),
                "recall@1": recall_at_k(ranked, gold, 1),
                "recall@5": recall_at_k(ranked, gold, 5),
                "recall@10": recall_at_k(ranked, gold, 10),
                "mrr": reciprocal_rank(ranked, gold),
                "ndcg@10": ndcg_at_k(ranked, gold, 10),
                "key_fact_recall": key_fact_recall(
                    "" if answer.abstained else answer.text, item.must_include
                ),
                "answer_cites_gold": float(bool({c.paper_id for c in answer.citations} & set(gold)))
                if not answer.abstained
                else None,
            }
        )
    if not answer.abstained:
        f = score_answer(answer)
        m.update(
            faithful_cited=f.faithful_cited,
            faithful_any=f.faithful_any,
            citation_recall=f.citation_recall,
            citation_precision=f.citation_precision,
            verify_failures=f.verify_failures,
            sentences=len(f.claims),
        )
        rec["claims"] = [asdict(c) for c in f.claims]
        if judge is not None:
            j = judge_answer(
                judge, item.question, answer.text, answer.sources, settings.eval.judge_max_statements
            )
            m["judge_faithfulness"] = j.faithfulness
            rec["judge"] = {
                "statements": j.statements,
                "verdicts": j.verdicts,
                "reasons": j.reasons,
                "error": j.error,
            }
    rec["metrics"] = m
    return rec


def run(
    items: list[GoldItem],
    configs: list[EvalConfig],
    settings: Settings,
    *,
    workers: int | None = None,
    use_judge: bool = True,
    progress: bool = True,
    on_skip: Callable[[str], None] | None = None,
) -> list[ConfigRun]:
    """Every configuration over every item; a thread pool of at most two workers per configuration."""
    from tqdm import tqdm

    workers = max(1, min(workers or settings.eval.workers, 2))
    endpoint = judge_endpoint(settings) if use_judge else None
    judge = ChatClient(endpoint) if endpoint else None
    runs: list[ConfigRun] = []
    bar = tqdm(total=len(items) * len(configs), disable=not progress, unit="q", dynamic_ncols=True)
    try:
        for cfg in configs:
            cr = ConfigRun(cfg)
            runs.append(cr)
            s = cfg.settings(settings)
            if cfg.needs_llm:
                ok, note = llm_status(s)
                cr.note = note
                if not ok:
                    cr.skipped = note
                    bar.update(len(items))
                    if on_skip:
                        on_skip(f"{cfg.name}: skipped ({note})")
                    continue
            bar.set_description(cfg.name)
            t0 = time.perf_counter()
            try:  # the first item alone: warms caches, and a missing LLM skips the config early
                cr.records.append(evaluate_item(items[0], cfg, s, judge))
            except RagError as exc:
                if not cfg.needs_llm:
                    raise
                cr.skipped = f"the LLM failed on the first question: {exc}"
                bar.update(len(items))
                if on_skip:
                    on_skip(f"{cfg.name}: skipped ({cr.skipped})")
                continue
            bar.update(1)

            def one(item: GoldItem, cfg: EvalConfig = cfg, s: Settings = s) -> dict:
                try:
                    return evaluate_item(item, cfg, s, judge)
                except RagError as exc:  # recorded per question; the run goes on
                    return {
                        "config": cfg.name,
                        "id": item.id,
                        "type": item.type,
                        "question": item.question,
                        "answerable": item.answerable,
                        "error": str(exc),
                        "metrics": {},
                    }
                finally:
                    bar.update(1)

            with ThreadPoolExecutor(max_workers=workers) as pool:
                cr.records.extend(pool.map(one, items[1:]))
            cr.seconds = round(time.perf_counter() - t0, 2)
            modes = {r.get("answer_mode") for r in cr.records if r.get("answer_mode")}
            if cfg.needs_llm and modes and modes <= {"extractive"}:
                cr.note = (cr.note or "") + "; ask() answered extractively (LLM answering not active)"
    finally:
        bar.close()
    return runs
