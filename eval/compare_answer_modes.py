"""Extractive vs LLM answers on the gold set: what the verification gate keeps, and key-fact recall.

    .venv/bin/python -m eval.compare_answer_modes --per-type 12 --unanswerable \
        --out eval/runs/compare_answer_modes.json

For each question both answerers run on the same index and settings. Reported per mode:
key-fact recall (fraction of `must_include` strings in the answer text, case-insensitive;
abstentions score 0), abstentions, whether a gold paper is cited, and citation verification
failures: every final answer is re-verified sentence by sentence against the passages it cites,
and any failure counts (it must be 0 after the gate). For the LLM: generated sentences kept vs
removed by the gate (with reasons), how often the extractive fallback answered, and a
`min_support` sweep for calibrating the gate: at each threshold, how many generated sentences
pass, and how many pass when their citation is swapped to another retrieved source (a
mis-attributed sentence the gate should refuse).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from collections import Counter
from pathlib import Path
from statistics import mean

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from eval.dataset import DEFAULT_DATASET, GoldItem, load_dataset  # noqa: E402
from eval.metrics import key_fact_recall  # noqa: E402
from rag import Answer, Passage, Settings, ask, ingest, retrieve  # noqa: E402
from rag.generate import FALLBACK_MODE, stream_answer  # noqa: E402
from rag.llm.postprocess import attribute, pre_gate  # noqa: E402
from rag.verify import verify_answer  # noqa: E402

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
ANSWERABLE_TYPES = ("fact", "which-paper", "multi-paper", "paraphrase")
_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")


def select(items: list[GoldItem], per_type: int | None, unanswerable: bool) -> list[GoldItem]:
    """The first `per_type` answerable items of each type (all if None), plus unanswerable ones."""
    out: list[GoldItem] = []
    for t in ANSWERABLE_TYPES:
        of_type = [i for i in items if i.answerable and i.type == t]
        out += of_type if per_type is None else of_type[:per_type]
    out += [i for i in items if i.answerable and i.type not in ANSWERABLE_TYPES]
    if unanswerable:
        out += [i for i in items if not i.answerable]
    return out


def reverify_failures(a: Answer, min_support: float) -> int:
    """Sentences of a final answer that fail when checked again against the passages they cite."""
    if a.abstained:
        return 0
    cited = [Passage(paper_id=c.paper_id, title=c.title, text=c.passage, score=c.score) for c in a.citations]
    numbers = [c.number for c in a.citations]
    bad_numbering = int(numbers != list(range(1, len(numbers) + 1)))
    return len(verify_answer(a.text, cited, min_support).removed) + bad_numbering


def summary_of(a: Answer, item: GoldItem, min_support: float) -> dict:
    cited_ids = {c.paper_id for c in a.citations}
    return {
        "mode": a.mode,
        "abstained": a.abstained,
        "text": a.text,
        "key_fact_recall": (key_fact_recall("" if a.abstained else a.text, item.must_include)),
        "cites_gold": bool(cited_ids & set(item.gold_ids)) if item.answerable else None,
        "citations": len(a.citations),
        "sentences": len(a.sentences),
        "removed": [{"text": r.text, "reasons": r.reasons} for r in a.removed],
        "reverify_failures": reverify_failures(a, min_support),
        "timings": a.timings,
    }


def swapped(sentence: str, n_sources: int) -> str | None:
    """The sentence citing a source it does not cite now (the next one round-robin), or None."""
    cites = {int(n) for g in _MARKER.findall(sentence) for n in re.findall(r"\d+", g)}
    others = [n for n in range(1, n_sources + 1) if n not in cites]
    if not cites or not others:
        return None
    target = next((n for n in others if n > max(cites)), others[0])
    return _MARKER.sub("", sentence).rstrip(" .") + f" [{target}]."


REASONS = (
    ("no citation", "no citation"),
    ("not a listed source", "cites a source that is not listed"),
    ("number", "number not in / not next to the same words in the cited source"),
    ("name(s)", "name not in the cited source"),
    ("words are in the cited source", "too few words in the cited source (min_support)"),
    ("no cited sentence says", "no cited sentence says this"),
    ("meaning differs", "embedding: meaning differs"),
    ("says nothing", "pre-gate: no content words"),
    ("source title", "pre-gate: only a title"),
    ("do not answer", "pre-gate: the model declined"),
)


def reason_category(reason: str) -> str:
    return next((cat for key, cat in REASONS if key in reason), "polarity or other: " + reason[:40])


def _gate_at(text: str, sources: list[Passage], item: GoldItem, t: float, attribute_uncited: bool) -> dict:
    """The gate at one threshold: kept / removed sentences, recall of the kept text, swap test."""
    attributed = 0
    if text and attribute_uncited:
        text, attributed = attribute(text, sources, t)
    v = verify_answer(text, sources, t) if text else None
    kept = v.sentences if v else []
    swaps = [s for s in (swapped(c.text, len(sources)) for c in kept) if s]
    return {
        "kept": len(kept),
        "removed": len(v.removed) if v else 0,
        "attributed": attributed,
        "swap_trials": len(swaps),
        "swap_accepted": sum(bool(verify_answer(s, sources, t).sentences) for s in swaps),
        "kept_key_fact_recall": key_fact_recall(v.text if kept else "", item.must_include),
        "reasons": [reason_category(x) for r in (v.removed if v else []) for x in r.reasons[:1]],
    }


def gate_sweep(raw: str, sources: list[Passage], item: GoldItem, min_support: float) -> dict:
    """The gate on one generated answer at every threshold, with and without attribution."""
    text, pre_removed, declined = pre_gate(raw, sources)
    rows = {
        variant: {
            str(t): _gate_at(text, sources, item, t, variant == "attributed")
            for t in _thresholds(min_support)
        }
        for variant in ("as_generated", "attributed")
    }
    return {
        "pre_gate_removed": len(pre_removed),
        "pre_gate_reasons": [reason_category(r.reasons[0]) for r in pre_removed],
        "declined": declined,
        "by_threshold": rows,
    }


def _thresholds(min_support: float) -> list[float]:
    return sorted({*THRESHOLDS, min_support})


def run_one(item: GoldItem, s: Settings) -> dict:
    rec: dict = {"id": item.id, "type": item.type, "answerable": item.answerable, "question": item.question}
    if item.answerable:
        rec["must_include"] = item.must_include
    ext = ask(item.question, settings=s, answer_mode="extractive")
    rec["extractive"] = summary_of(ext, item, 0.5)

    t0 = time.perf_counter()
    passages = retrieve(item.question, settings=s)
    trace: dict = {}
    final = None
    timings = {"retrieve": round(time.perf_counter() - t0, 4)}
    for x in stream_answer(item.question, passages, s, timings, trace):
        final = x
    assert isinstance(final, Answer)
    rec["llm"] = summary_of(final, item, s.answer.llm_min_support)
    if trace:
        rec["llm"]["raw"] = trace["raw"]
        keep = {"paper_id", "title", "text", "score"}
        rec["llm"]["prompt_sources"] = [p.model_dump(include=keep) for p in trace["sources"]]
        rec["llm"]["raw_key_fact_recall"] = key_fact_recall(trace["raw"], item.must_include)
    return rec


def add_gate(records: list[dict], items: dict[str, GoldItem], min_support: float) -> None:
    """(Re)compute the gate analysis of every generated answer from its saved raw text and sources."""
    for r in records:
        g = r["llm"]
        if "raw" in g:
            sources = [Passage(**p) for p in g["prompt_sources"]]
            g["gate"] = gate_sweep(g["raw"], sources, items[r["id"]], min_support)


def _avg(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return round(mean(vals), 4) if vals else None


def aggregate(records: list[dict], min_support: float, attribute_uncited: bool) -> dict:
    ans = [r for r in records if r["answerable"]]
    una = [r for r in records if not r["answerable"]]
    out: dict = {"answerable_questions": len(ans), "unanswerable_questions": len(una)}
    for mode in ("extractive", "llm"):
        rs = [r[mode] for r in ans]
        out[mode] = {
            "key_fact_recall": _avg([r["key_fact_recall"] for r in rs]),
            "abstained_on_answerable": sum(r["abstained"] for r in rs),
            "abstained_on_unanswerable": sum(r[mode]["abstained"] for r in una),
            "cites_gold": sum(bool(r["cites_gold"]) for r in rs),
            "citation_verification_failures": sum(x[mode]["reverify_failures"] for x in records),
            "modes": dict(Counter("abstained" if r["abstained"] else r["mode"] for r in rs)),
            "key_fact_recall_by_type": {
                t: _avg([r[mode]["key_fact_recall"] for r in ans if r["type"] == t]) for t in ANSWERABLE_TYPES
            },
            "median_total_s": sorted(r["timings"].get("total", 0) for r in rs)[len(rs) // 2] if rs else None,
        }
    gen = [r for r in records if "gate" in r["llm"]]
    sweep: dict = {}
    for variant in ("as_generated", "attributed"):
        sweep[variant] = {}
        for t in _thresholds(min_support):
            rows = [(r, r["llm"]["gate"]["by_threshold"][variant][str(t)]) for r in gen]
            trials = sum(x["swap_trials"] for _, x in rows)
            accepted = sum(x["swap_accepted"] for _, x in rows)
            # what LLM mode would answer: the kept sentences, or the extractive fallback when none is kept
            final = [
                x["kept_key_fact_recall"] if x["kept"] else r["extractive"]["key_fact_recall"]
                for r, x in rows
                if r["answerable"]
            ]
            sweep[variant][str(t)] = {
                "kept": sum(x["kept"] for _, x in rows),
                "removed": sum(x["removed"] for _, x in rows),
                "attributed": sum(x["attributed"] for _, x in rows),
                "answers_with_kept_sentences": sum(x["kept"] > 0 for _, x in rows),
                "swapped_citation_accepted": f"{accepted}/{trials}",
                "kept_text_key_fact_recall": _avg(
                    [x["kept_key_fact_recall"] for r, x in rows if r["answerable"]]
                ),
                "llm_mode_key_fact_recall_with_fallback": _avg(final),
            }
    variant = "attributed" if attribute_uncited else "as_generated"
    at = sweep[variant][str(min_support)]
    reasons: Counter = Counter()
    for r in gen:
        reasons.update(r["llm"]["gate"]["pre_gate_reasons"])
        reasons.update(r["llm"]["gate"]["by_threshold"][variant][str(min_support)]["reasons"])
    pre_removed = sum(r["llm"]["gate"]["pre_gate_removed"] for r in gen)
    out["gate"] = {
        "min_support": min_support,
        "attribute_uncited": attribute_uncited,
        "llm_calls": len(gen),
        "generated_sentences": pre_removed + at["kept"] + at["removed"],
        "kept": at["kept"],
        "removed_by_verifier": at["removed"],
        "removed_before_verifier": pre_removed,
        "attributed": at["attributed"],
        "declined": sum(r["llm"]["gate"]["declined"] for r in gen),
        "answers_from_llm": sum(
            r["llm"]["mode"].startswith("llm:") and not r["llm"]["abstained"] for r in gen
        ),
        "answers_from_fallback": sum(r["llm"]["mode"] == FALLBACK_MODE for r in gen),
        "raw_key_fact_recall": _avg([r["llm"].get("raw_key_fact_recall") for r in gen if r["answerable"]]),
        "removal_reasons": dict(reasons.most_common()),
        "sweep": sweep,
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gold", default=str(DEFAULT_DATASET))
    ap.add_argument("--per-type", type=int, default=12, help="answerable questions per type (0: all)")
    ap.add_argument("--unanswerable", action="store_true", help="also run the unanswerable questions")
    ap.add_argument("--data-dir", default=None, help="index + model dir (default: a new temp dir)")
    ap.add_argument("--k", type=int, default=None, help="papers retrieved (default: settings)")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--n-ctx", type=int, default=4096)
    ap.add_argument("--min-support", type=float, default=None, help="gate threshold (default: settings)")
    ap.add_argument(
        "--attribute", action="store_true", help="cite uncited generated sentences (RAG_ANSWER__LLM_ATTRIBUTE)"
    )
    ap.add_argument(
        "--from-jsonl", default=None, help="recompute the gate analysis from a previous run's .jsonl (no LLM)"
    )
    ap.add_argument("--out", default="eval/runs/compare_answer_modes.json")
    args = ap.parse_args()

    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="compare-modes-"))
    answer: dict = {"llm_attribute": True} if args.attribute else {}
    if args.min_support is not None:
        answer["llm_min_support"] = args.min_support
    retrieval = {} if args.k is None else {"k": args.k}
    s = Settings(
        _env_file=None,
        data_dir=data_dir,
        llm={"backend": "llamacpp", "max_tokens": args.max_tokens, "n_ctx": args.n_ctx},
        answer=answer,
        retrieval=retrieval,
    )
    gold = {i.id: i for i in load_dataset(args.gold)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.from_jsonl:
        lines = Path(args.from_jsonl).read_text().splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
    else:
        report = ingest(settings=s)
        print(f"index in {data_dir}: {report.papers} papers ({report.added} added)", flush=True)
        items = select(list(gold.values()), args.per_type or None, args.unanswerable)
        records = []
        with out.with_suffix(".jsonl").open("w") as log:
            for n, item in enumerate(items, 1):
                rec = run_one(item, s)
                records.append(rec)
                log.write(json.dumps(rec) + "\n")
                log.flush()
                e, g = rec["extractive"], rec["llm"]
                print(
                    f"[{n}/{len(items)}] {item.id} {item.type}: extractive kfr={e['key_fact_recall']} "
                    f"| llm {g['mode']} kfr={g['key_fact_recall']} kept={g['sentences']} "
                    f"({g['timings'].get('total', 0):.1f}s)",
                    flush=True,
                )
    add_gate(records, gold, s.answer.llm_min_support)
    summary = aggregate(records, s.answer.llm_min_support, s.answer.llm_attribute)
    summary["settings"] = {
        "k": s.retrieval.k,
        "max_tokens": s.llm.max_tokens,
        "n_ctx": s.llm.n_ctx,
        "llm_min_support": s.answer.llm_min_support,
        "llm_attribute": s.answer.llm_attribute,
        "abstain_threshold": s.answer.abstain_threshold,
        "from_jsonl": args.from_jsonl,
    }
    out.write_text(json.dumps({"summary": summary, "records": records}, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
