"""Answer modes side by side on the tuning set and the held-out set: extractive vs the local LLMs.

    .venv/bin/python -m eval.answer_modes --modes extractive,llm-1.5b,llm-0.5b \
        --datasets gold,heldout --out eval/runs/answer_modes
    (tuning sets: near = eval/tune_near.jsonl, extra = eval/tune_extra.jsonl)

Per dataset and mode, through the public API only (`rag.ask_stream`, one question at a time so the
latencies are the user's): key-fact recall (mean, and the share of answerable questions with all
key facts), abstention recall on unanswerable questions, false-abstention rate, unsupported
sentences (each final sentence re-checked against the citations as numbered, with rag.verify's
checker plus the MiniLM similarity signal the gate does not use), ALCE citation precision/recall,
whether a gold paper is cited, and latency p50/p95 (sources shown, first generated token, complete).

Each answer is appended to `<out>/<dataset>.<mode>.jsonl` as soon as it exists, so an interrupted
run loses nothing: re-running skips the questions already answered (`--fresh` starts over).
`<out>/summary.md` and `summary.json` are rewritten at the end from all records.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from eval.dataset import (  # noqa: E402
    DEFAULT_DATASET,
    EXTRA_DATASET,
    HELDOUT2_DATASET,
    HELDOUT3_DATASET,
    HELDOUT_DATASET,
    NEAR_DATASET,
    GoldItem,
    load_dataset,
)
from eval.faithfulness import score_answer  # noqa: E402
from eval.metrics import abstention_scores, key_fact_recall, mean_or_none, percentile  # noqa: E402
from rag import Answer, Settings, Sources, ask_stream, ingest  # noqa: E402
from rag.embeddings import get_embedder  # noqa: E402
from rag.models import Preview  # noqa: E402

DATASETS = {
    "gold": DEFAULT_DATASET,
    "near": NEAR_DATASET,
    "extra": EXTRA_DATASET,
    "heldout": HELDOUT_DATASET,
    "heldout2": HELDOUT2_DATASET,
    "heldout3": HELDOUT3_DATASET,
}
MODES: dict[str, dict] = {
    # quotes only (the default before 2026-12-05); the default now is extractive-check
    "extractive": {"answer": {"mode": "extractive", "model_check": False}},
    "extractive-check": {"answer": {"mode": "extractive", "model_check": True, "model_check_reply": False}},
    # the check plus the model's own few-word answer ("Not stated" or a figure the abstract lacks withholds)
    "extractive-reply": {"answer": {"mode": "extractive", "model_check": True, "model_check_reply": True}},
    "llm-1.5b": {"answer": {"mode": "llm"}, "llm": {"local_model": "qwen2.5-coder-1.5b"}},
    "llm-0.5b": {"answer": {"mode": "llm"}, "llm": {"local_model": "qwen2.5-coder-0.5b"}},
}


def mode_settings(base: Settings, mode: str, overrides: dict | None = None) -> Settings:
    """The base settings with a mode's sections (and any extra overrides) applied."""
    update = {}
    for section, values in {**MODES[mode], **(overrides or {})}.items():
        merged = {**MODES[mode].get(section, {}), **values}
        update[section] = getattr(base, section).model_copy(update=merged)
    return base.model_copy(update=update)


def answer_one(item: GoldItem, settings: Settings, embedder) -> dict:
    """Ask one question and score the answer (scores that need no reference are computed here)."""
    t0 = time.perf_counter()
    seen: dict[str, float] = {}
    final: Answer | None = None
    for event in ask_stream(item.question, settings=settings):
        now = round(time.perf_counter() - t0, 4)
        if isinstance(event, Sources):
            seen["sources"] = now
        elif isinstance(event, Preview):
            seen.setdefault("preview", now)
        elif isinstance(event, str):
            seen.setdefault("first_token", now)
        else:
            final = event
    assert final is not None
    seen["complete"] = round(time.perf_counter() - t0, 4)
    faith = None if final.abstained else score_answer(final, embedder=embedder)
    cited = {c.paper_id for c in final.citations}
    return {
        "id": item.id,
        "type": item.type,
        "answerable": item.answerable,
        "question": item.question,
        "mode": final.mode,
        "abstained": final.abstained,
        "confidence": final.confidence,
        "check": final.check,
        "check_reply": final.check_reply,
        "text": final.text,
        "draft": final.draft,
        "notices": final.notices,
        "key_fact_recall": key_fact_recall("" if final.abstained else final.text, item.must_include),
        "cites_gold": bool(cited & set(item.gold_ids)) if item.answerable else None,
        "sentences": 0 if faith is None else len(faith.claims),
        "unsupported": 0 if faith is None else sum(not c.supported_by_cited for c in faith.claims),
        "unsupported_detail": [] if faith is None else [
            {"text": c.text, "reasons": c.reasons} for c in faith.claims if not c.supported_by_cited
        ],
        "citation_precision": None if faith is None else faith.citation_precision,
        "citation_recall": None if faith is None else faith.citation_recall,
        "removed": len(final.removed),
        "latency": seen,
        "timings": final.timings,
    }


def summarize(records: list[dict]) -> dict:
    answerable = [r for r in records if r["answerable"]]
    recalls = [r["key_fact_recall"] for r in answerable if r["key_fact_recall"] is not None]
    abst = abstention_scores([r["abstained"] for r in records], [r["answerable"] for r in records])
    sentences = sum(r["sentences"] for r in records)
    lat = {
        stage: [r["latency"][stage] for r in records if stage in r["latency"] and not r["abstained"]]
        for stage in ("sources", "first_token", "complete")
    }
    return {
        "questions": len(records),
        "answerable": len(answerable),
        "unanswerable": len(records) - len(answerable),
        "key_fact_recall": mean_or_none(recalls),
        "all_key_facts": (sum(x == 1.0 for x in recalls) / len(recalls)) if recalls else None,
        "abstention_recall": abst["abstention_recall"],
        "false_abstention": abst["false_abstention_rate"],
        "abstention_precision": abst["abstention_precision"],
        "sentences": sentences,
        "unsupported_rate": (sum(r["unsupported"] for r in records) / sentences) if sentences else None,
        "citation_precision": mean_or_none([r["citation_precision"] for r in records]),
        "citation_recall": mean_or_none([r["citation_recall"] for r in records]),
        "cites_gold": mean_or_none([float(r["cites_gold"]) for r in answerable if r["cites_gold"] is not None]),
        "fallbacks": sum(r["mode"] == "extractive-fallback" for r in records),
        **{f"{stage}_p50": percentile(v, 50) for stage, v in lat.items()},
        **{f"{stage}_p95": percentile(v, 95) for stage, v in lat.items()},
    }


ROWS = [
    ("key-fact recall (mean)", "key_fact_recall", "{:.3f}"),
    ("answerable with all key facts", "all_key_facts", "{:.3f}"),
    ("abstention recall (unanswerable)", "abstention_recall", "{:.3f}"),
    ("false abstention (answerable)", "false_abstention", "{:.3f}"),
    ("unsupported sentences (re-check)", "unsupported_rate", "{:.3f}"),
    ("citation precision (ALCE)", "citation_precision", "{:.3f}"),
    ("citation recall (ALCE)", "citation_recall", "{:.3f}"),
    ("cites a gold paper", "cites_gold", "{:.3f}"),
    ("answered by extractive fallback", "fallbacks", "{}"),
    ("sources shown p50 (s)", "sources_p50", "{:.2f}"),
    ("first token p50 / p95 (s)", ("first_token_p50", "first_token_p95"), "{:.1f} / {:.1f}"),
    ("complete p50 / p95 (s)", ("complete_p50", "complete_p95"), "{:.1f} / {:.1f}"),
]


def markdown(summaries: dict[str, dict[str, dict]]) -> str:
    """One table per dataset: metrics as rows, modes as columns."""
    out = []
    for dataset, by_mode in summaries.items():
        modes = list(by_mode)
        first = next(iter(by_mode.values()))
        out.append(f"### {dataset} ({first['answerable']} answerable + {first['unanswerable']} unanswerable)\n")
        out.append("| metric | " + " | ".join(modes) + " |")
        out.append("|---|" + "---|" * len(modes))
        for label, key, fmt in ROWS:
            cells = []
            for m in modes:
                vals = [by_mode[m].get(k) for k in (key if isinstance(key, tuple) else (key,))]
                cells.append("–" if any(v is None for v in vals) else fmt.format(*vals))
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def load_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a kill: that question is asked again
    return records


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modes", default="extractive,llm-1.5b,llm-0.5b")
    ap.add_argument("--datasets", default="gold,heldout")
    ap.add_argument("--out", default="eval/runs/answer_modes")
    ap.add_argument("--data-dir", default=None, help="index + models (default: RAG_DATA_DIR)")
    ap.add_argument("--limit", type=int, default=None, help="first N questions of each dataset")
    ap.add_argument("--ids", default=None, help="only these question ids (comma-separated)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                    help="extra setting for every mode, e.g. answer.evidence_tokens=300")
    ap.add_argument("--fresh", action="store_true", help="discard earlier records in --out")
    args = ap.parse_args(argv)

    base = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    overrides: dict[str, dict] = {}
    for spec in args.set:
        key, _, value = spec.partition("=")
        section, _, field = key.partition(".")
        overrides.setdefault(section, {})[field] = json.loads(value) if value[:1] in "0123456789-[{tf" else value
    report = ingest(settings=base)
    print(f"index: {report.papers} papers ({report.added} added) in {base.data_dir}", file=sys.stderr)
    embedder = get_embedder(base)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wanted_ids = set(args.ids.split(",")) if args.ids else None
    summaries: dict[str, dict[str, dict]] = {}
    for dataset in args.datasets.split(","):
        items = load_dataset(DATASETS[dataset])
        if wanted_ids:
            items = [i for i in items if i.id in wanted_ids]
        items = items[: args.limit] if args.limit else items
        for mode in args.modes.split(","):
            path = out / f"{dataset}.{mode}.jsonl"
            if args.fresh:
                path.unlink(missing_ok=True)
            records = {r["id"]: r for r in load_records(path)}
            s = mode_settings(base, mode, overrides)
            with path.open("a") as f:
                for n, item in enumerate(items, 1):
                    if item.id in records:
                        continue
                    rec = answer_one(item, s, embedder)
                    records[item.id] = rec
                    f.write(json.dumps(rec) + "\n")
                    f.flush()
                    lat = rec["latency"]
                    print(
                        f"{dataset} {mode} {n}/{len(items)} {item.id} abst={rec['abstained']} "
                        f"kfr={rec['key_fact_recall']} unsup={rec['unsupported']} "
                        f"first={lat.get('first_token', '-')} total={lat['complete']}",
                        file=sys.stderr,
                        flush=True,
                    )
            chosen = [records[i.id] for i in items if i.id in records]
            summaries.setdefault(dataset, {})[mode] = summarize(chosen)
    (out / "summary.json").write_text(json.dumps(summaries, indent=2))
    table = markdown(summaries)
    (out / "summary.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
