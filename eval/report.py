"""Write a run folder: results.jsonl, summary.json, report.md and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

from eval.runner import ConfigRun

PLOT_METRICS = (
    ("recall@k", "recall@k"),
    ("mrr", "MRR"),
    ("ndcg@10", "nDCG@10"),
    ("key_fact_recall", "key facts"),
    ("abstention_recall", "abstain R"),
    ("abstention_precision", "abstain P"),
    ("faithful_any", "faithful"),
    ("citation_precision", "cite P"),
    ("citation_recall", "cite R"),
)


DEFINITIONS = [
    "- Retrieval metrics use the ranked paper ids of `retrieve(question, 10)`; recall@k is the share of "
    "a question's gold papers in the first k (k of the configuration); MRR is 1/rank of the first gold "
    "paper within 10; nDCG@10 uses binary relevance.",
    "- Key-fact recall: share of `must_include` strings found in the answer text (case-insensitive); an "
    "abstention scores 0. 'answered' restricts to questions that were not abstained on.",
    "- Abstention precision: unanswerable among abstentions; recall: abstentions among unanswerable; "
    "false abstention: abstentions among answerable.",
    "- Faithfulness (offline checker, rag/verify.py): share of answer sentences supported by the passages "
    "they cite / by some retrieved passage; averaged per answer. Verify failures: final sentences that "
    "fail the gate's own check (should be 0).",
    "- Citation recall/precision: ALCE definitions with the offline checker as the entailment function.",
    "- Judge faithfulness: Ragas-style statements + verdicts by the judge model against the retrieved passages.",
]


def _fmt(x, pct: bool = False) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.1%}" if pct else f"{x:.3f}"
    return str(x)


def write_results(folder: Path, runs: list[ConfigRun]) -> Path:
    path = folder / "results.jsonl"
    with path.open("w") as f:
        for run in runs:
            for rec in run.records:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


def plot_metrics(folder: Path, summaries: dict[str, dict]) -> Path | None:
    """Grouped bars: one group per metric, one bar per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    if not summaries:
        return None
    names = list(summaries)
    x = np.arange(len(PLOT_METRICS))
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(11, 4.2))
    for i, name in enumerate(names):
        vals = [summaries[name].get(key) or 0.0 for key, _ in PLOT_METRICS]
        ax.bar(x + (i - (len(names) - 1) / 2) * width, vals, width, label=name)
    ax.set_xticks(x, [label for _, label in PLOT_METRICS])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title("Metrics per configuration")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = folder / "metrics.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_latency(folder: Path, runs: list[ConfigRun]) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = {r.config.name: [x["latency_s"] for x in r.records if "latency_s" in x] for r in runs if r.records}
    if not data:
        return None
    fig, ax = plt.subplots(figsize=(8, 4))
    top = max(max(v) for v in data.values() if v)
    bins = [top * i / 30 for i in range(31)]
    for name, values in data.items():
        ax.hist(values, bins=bins, histtype="step", linewidth=1.6, label=name)
    ax.set_xlabel("seconds per question (ask)")
    ax.set_ylabel("questions")
    ax.set_title("Latency")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = folder / "latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_by_type(folder: Path, by_type: dict[str, dict[str, dict]], key: str = "recall@k") -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    configs = [c for c, types in by_type.items() if types]
    if not configs:
        return None
    types = sorted({t for c in configs for t in by_type[c] if by_type[c][t].get(key) is not None})
    if not types:
        return None
    x = np.arange(len(types))
    width = 0.8 / len(configs)
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, c in enumerate(configs):
        ax.bar(
            x + (i - (len(configs) - 1) / 2) * width,
            [by_type[c].get(t, {}).get(key) or 0 for t in types],
            width,
            label=c,
        )
    ax.set_xticks(x, types)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{key} per question type")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = folder / "by_type.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _table(headers: list[str], rows: list[list[str]], left: int = 1) -> str:
    """Markdown table; the first `left` columns are labels (left-aligned), the rest numbers."""
    align = ["---" if i < left else "---:" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def render(
    meta: dict,
    runs: list[ConfigRun],
    summaries: dict[str, dict],
    by_type: dict[str, dict[str, dict]],
    checker: dict | None,
    pubmedqa: dict | None,
    plots: list[Path],
) -> str:
    """The Markdown report."""
    out = [f"# Evaluation run {meta['run_id']}", ""]
    out.append(f"- dataset: `{meta['dataset']}` ({meta['items']} questions)")
    out.append(f"- index: {meta.get('index', '–')}")
    out.append(f"- configurations: {', '.join(r.config.name for r in runs)}; workers: {meta['workers']}")
    out.append(f"- judge: {meta.get('judge') or 'not configured (RAG_EVAL__JUDGE_BASE_URL)'}")
    out.append(f"- wall time: {meta.get('seconds', 0):.0f} s")
    for r in runs:
        if r.skipped:
            out.append(f"- **{r.config.name} skipped**: {r.skipped}")
        elif r.note:
            out.append(f"- {r.config.name}: {r.note}")
    for note in meta.get("notes", []):
        out.append(f"- note: {note}")
    out.append("")
    done = [r for r in runs if not r.skipped]
    if done:
        out += ["## Retrieval (answerable questions, paper level)", ""]
        rows = []
        for r in done:
            s = summaries[r.config.name]
            rows.append(
                [
                    r.config.name,
                    str(r.config.k),
                    _fmt(s["hit@k"]),
                    _fmt(s["recall@k"]),
                    _fmt(s["recall@1"]),
                    _fmt(s["recall@5"]),
                    _fmt(s["recall@10"]),
                    _fmt(s["mrr"]),
                    _fmt(s["ndcg@10"]),
                ]
            )
        out += [
            _table(
                [
                    "config",
                    "k",
                    "hit@k",
                    "recall@k",
                    "recall@1",
                    "recall@5",
                    "recall@10",
                    "MRR@10",
                    "nDCG@10",
                ],
                rows,
            ),
            "",
        ]
        out += ["## Answers", ""]
        rows = []
        for r in done:
            s = summaries[r.config.name]
            rows.append(
                [
                    r.config.name,
                    _fmt(s["key_fact_recall"]),
                    _fmt(s["key_fact_recall_answered"]),
                    _fmt(s["abstention_precision"]),
                    _fmt(s["abstention_recall"]),
                    _fmt(s["false_abstention_rate"]),
                    _fmt(s["answer_cites_gold"]),
                    f"{s['answered']}/{s['n']}",
                    str(s["errors"]),
                ]
            )
        out += [
            _table(
                [
                    "config",
                    "key-fact recall",
                    "key facts (answered)",
                    "abstain P",
                    "abstain R",
                    "false abstain",
                    "cites a gold paper",
                    "answered",
                    "errors",
                ],
                rows,
            ),
            "",
        ]
        out += ["## Faithfulness and citations (answered questions)", ""]
        rows = []
        for r in done:
            s = summaries[r.config.name]
            rows.append(
                [
                    r.config.name,
                    _fmt(s["faithful_cited"]),
                    _fmt(s["faithful_any"]),
                    _fmt(s["citation_recall"]),
                    _fmt(s["citation_precision"]),
                    _fmt(s["judge_faithfulness"]),
                    f"{s['verify_failures']}/{s['sentences']}",
                    str(s["removed_by_gate"]),
                    f"{_fmt(s['latency_p50_s'])} / {_fmt(s['latency_p95_s'])}",
                ]
            )
        out += [
            _table(
                [
                    "config",
                    "faithful (cited)",
                    "faithful (any retrieved)",
                    "citation recall",
                    "citation precision",
                    "judge faithfulness",
                    "verify failures / sentences",
                    "removed by gate",
                    "latency p50 / p95 s",
                ],
                rows,
            ),
            "",
        ]
        if any(by_type.get(r.config.name) for r in done):
            out += ["## Per question type", ""]
            rows = []
            for r in done:
                for t, s in by_type.get(r.config.name, {}).items():
                    rows.append(
                        [
                            r.config.name,
                            t,
                            str(s["n"]),
                            _fmt(s["recall@k"]),
                            _fmt(s["mrr"]),
                            _fmt(s["key_fact_recall"]),
                            _fmt(s["abstention_recall"]),
                            _fmt(s["false_abstention_rate"]),
                            _fmt(s["faithful_any"]),
                        ]
                    )
            out += [
                _table(
                    [
                        "config",
                        "type",
                        "n",
                        "recall@k",
                        "MRR",
                        "key facts",
                        "abstain R",
                        "false abstain",
                        "faithful",
                    ],
                    rows,
                    left=2,
                ),
                "",
            ]
    for p in plots:
        out += [f"![{p.stem}]({p.name})", ""]
    if checker:
        out += ["## Offline checker on its labeled set", ""]
        for name, res in checker.items():
            if "error" in res:
                out += [f"- {name}: {res['error']}", ""]
                continue
            from eval.checker import format_table

            out += [f"**{name}** ({res['n']} items, {res['seconds']} s)", "", format_table(res), ""]
    if pubmedqa:
        out += ["## PubMedQA", ""]
        if "skipped" in pubmedqa:
            out += [f"Skipped: {pubmedqa['skipped']}", ""]
        else:
            ix = pubmedqa["index"]
            out += [
                f"{pubmedqa['records']} abstracts indexed in `{pubmedqa['data_dir']}` "
                "(collection `pubmedqa`): "
                f"{ix['added']} added, {ix.get('updated', 0)} updated, {ix['unchanged']} unchanged, "
                f"{ix['chunks_written']} chunks written in {ix['seconds']} s.",
                "",
            ]
            rows = [
                [
                    m,
                    str(v["n"]),
                    _fmt(v["recall@1"]),
                    _fmt(v["recall@5"]),
                    _fmt(v["mrr@5"]),
                    f"{v['seconds']}",
                ]
                for m, v in pubmedqa["retrieval"].items()
            ]
            out += [_table(["mode", "questions", "recall@1", "recall@5", "MRR@5", "seconds"], rows), ""]
            acc = pubmedqa.get("accuracy")
            if acc and "skipped" in acc:
                out += [f"Accuracy (yes/no/maybe, 500 test ids): skipped, {acc['skipped']}.", ""]
            elif acc:
                out += [
                    f"Accuracy on {acc['n']} test ids with {acc['model']} ({acc['context']}): "
                    f"**{_fmt(acc['accuracy'], pct=True)}**, macro-F1 {_fmt(acc['macro_f1'])}, "
                    f"{acc['unparsed']} unparsed, {acc['errors']} errors. Anchors: majority 55.2%, "
                    "BioBERT 68.1%, single human 78.0%.",
                    "",
                ]
    out += ["## Definitions", "", *DEFINITIONS]
    return "\n".join(out) + "\n"
