"""Aggregate per-question records into per-configuration (and per-type) scores."""

from __future__ import annotations

from collections.abc import Iterable
from statistics import mean

from eval.metrics import abstention_scores, mean_or_none, percentile

RETRIEVAL_KEYS = ("hit@k", "recall@k", "recall@1", "recall@5", "recall@10", "mrr", "ndcg@10")
ANSWER_KEYS = (
    "faithful_cited",
    "faithful_any",
    "citation_recall",
    "citation_precision",
    "judge_faithfulness",
)


def _round(x: float | None, n: int = 4) -> float | None:
    return None if x is None else round(x, n)


def summarize(records: Iterable[dict]) -> dict:
    """Means over the items each metric applies to; abstention over all; latency percentiles."""
    recs = [r for r in records if "error" not in r]
    errors = sum(1 for r in records if "error" in r)
    answerable = [r for r in recs if r["answerable"]]
    answered = [r for r in recs if not r["abstained"]]
    out: dict = {
        "n": len(recs) + errors,
        "errors": errors,
        "answerable": len(answerable),
        "unanswerable": len(recs) - len(answerable),
        "answered": len(answered),
    }
    for key in RETRIEVAL_KEYS:
        out[key] = _round(mean_or_none([r["metrics"].get(key) for r in answerable]))
    out["key_fact_recall"] = _round(mean_or_none([r["metrics"].get("key_fact_recall") for r in answerable]))
    out["key_fact_recall_answered"] = _round(
        mean_or_none([r["metrics"].get("key_fact_recall") for r in answerable if not r["abstained"]])
    )
    out["answer_cites_gold"] = _round(
        mean_or_none([r["metrics"].get("answer_cites_gold") for r in answerable])
    )
    out.update(
        {
            k: _round(v)
            for k, v in abstention_scores(
                [r["abstained"] for r in recs], [r["answerable"] for r in recs]
            ).items()
        }
    )
    for key in ANSWER_KEYS:
        out[key] = _round(mean_or_none([r["metrics"].get(key) for r in answered]))
    out["judge_errors"] = sum(1 for r in answered if (r.get("judge") or {}).get("error"))
    out["sentences"] = sum(r["metrics"].get("sentences") or 0 for r in answered)
    out["verify_failures"] = sum(r["metrics"].get("verify_failures") or 0 for r in answered)
    out["removed_by_gate"] = sum(len(r.get("removed") or []) for r in recs)
    lat = [r["latency_s"] for r in recs if "latency_s" in r]
    out["latency_mean_s"] = _round(mean(lat) if lat else None, 3)
    out["latency_p50_s"] = _round(percentile(lat, 50), 3)
    out["latency_p95_s"] = _round(percentile(lat, 95), 3)
    return out


def summarize_by_type(records: list[dict]) -> dict[str, dict]:
    types = sorted({r.get("type") for r in records if r.get("type")})
    return {t: summarize([r for r in records if r.get("type") == t]) for t in types}
