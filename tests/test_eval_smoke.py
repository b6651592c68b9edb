"""Eval smoke: a handful of gold questions through the real pipeline (full index, real MiniLM).

Thresholds: the gold papers are found (recall@5), nothing that reaches the user fails the
citation check, and the run folder has its report, results and plots.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_settings
from eval.cli import run_eval
from eval.dataset import DEFAULT_DATASET
from eval.pubmedqa import run_pubmedqa

pytestmark = pytest.mark.slow

PER_TYPE = 2  # questions of each type taken from eval/gold.jsonl


def _smoke_dataset(folder: Path) -> Path:
    """The first questions of each type from the gold set (or a tiny fixture if it is absent)."""
    if DEFAULT_DATASET.is_file():
        rows = [json.loads(line) for line in DEFAULT_DATASET.read_text().splitlines() if line.strip()]
        picked, seen = [], {}
        for row in rows:
            if seen.get(row.get("type"), 0) < PER_TYPE:
                seen[row.get("type")] = seen.get(row.get("type"), 0) + 1
                picked.append(row)
    else:
        picked = [
            {
                "id": "s1",
                "question": "Which pyramid vision transformer is a backbone for dense prediction?",
                "gold_titles": [
                    "Pyramid Vision Transformer: A Versatile Backbone for Dense Prediction without "
                    "Convolutions"
                ],
                "must_include": ["PVT"],
                "answerable": True,
                "type": "fact",
            },
            {
                "id": "s2",
                "question": "What is the boiling point of liquid nitrogen at sea level?",
                "answerable": False,
                "type": "unanswerable",
            },
        ]
    path = folder / "smoke.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in picked))
    return path


def test_eval_smoke_on_real_index(full_index, tmp_path):
    out = tmp_path / "run"
    run_eval(
        _smoke_dataset(tmp_path),
        "hybrid-k5,bm25-k5",
        out,
        checker=False,
        pubmedqa=False,
        progress=False,
        settings=full_index,
        echo=lambda *_: None,
    )
    summary = json.loads((out / "summary.json").read_text())
    for name in ("hybrid-k5", "bm25-k5"):
        s = summary["summary"][name]
        assert s["errors"] == 0
        assert s["recall@5"] >= 0.8, (name, s)
        assert s["verify_failures"] == 0, (name, s)  # every sentence shown to the user is supported
        assert s["faithful_cited"] == 1.0
        assert s["citation_recall"] >= 0.9
    assert summary["summary"]["hybrid-k5"]["abstention_recall"] is not None
    for name in ("report.md", "results.jsonl", "metrics.png", "latency.png"):
        assert (out / name).is_file(), name
    assert "## Retrieval" in (out / "report.md").read_text()


ABSTRACTS = {
    "101": (
        "Does aspirin reduce recurrent stroke risk in elderly patients?",
        [
            "Aspirin was given to 400 elderly patients after ischemic stroke.",
            "Recurrent stroke occurred less often with aspirin than with placebo over two years.",
        ],
        "yes",
    ),
    "102": (
        "Is vitamin D supplementation associated with fewer fractures in postmenopausal women?",
        [
            "We followed 1200 postmenopausal women taking vitamin D or placebo.",
            "Fracture rates did not differ between the vitamin D and placebo groups.",
        ],
        "no",
    ),
    "103": (
        "Does music therapy improve sleep quality in intensive care units?",
        [
            "Patients in an intensive care unit listened to music therapy before sleep.",
            "Sleep quality scores improved slightly but the result was not significant.",
        ],
        "maybe",
    ),
    "104": (
        "Are smartphone reminders effective for asthma inhaler adherence in teenagers?",
        [
            "Teenagers with asthma received smartphone reminders for their inhaler.",
            "Adherence to the inhaler rose from 45% to 71% with reminders.",
        ],
        "yes",
    ),
}


def test_pubmedqa_pipeline_on_a_tiny_copy(tmp_path, qwen15):
    folder = tmp_path / "pubmedqa"
    folder.mkdir()
    records = {
        pmid: {"QUESTION": q, "CONTEXTS": ctx, "final_decision": lab, "YEAR": "2010"}
        for pmid, (q, ctx, lab) in ABSTRACTS.items()
    }
    (folder / "ori_pqal.json").write_text(json.dumps(records))
    (folder / "test_ground_truth.json").write_text(
        json.dumps({p: r["final_decision"] for p, r in records.items()})
    )

    s = make_settings(
        tmp_path / "data",
        eval={"pubmedqa_dir": folder},
        llm={"backend": "llamacpp", "local_model": str(qwen15), "n_ctx": 2048},
    )
    result = run_pubmedqa(s, accuracy=True, progress=False)
    assert result["index"]["added"] == 4 and result["records"] == 4
    assert Path(result["data_dir"]) == tmp_path / "data" / "pubmedqa"
    for mode in ("hybrid", "bm25", "dense"):
        assert result["retrieval"][mode]["recall@5"] == 1.0, mode
    acc = result["accuracy"]  # the default 1.5B model (the 0.5B called 101 "no"), given its own abstract
    assert acc["n"] == 4 and acc["unparsed"] == 0 and acc["errors"] == 0, acc["rows"]
    assert acc["majority_in_sample"] == 0.5
    assert acc["accuracy"] == sum(r["pred"] == r["gold"] for r in acc["rows"]) / 4
    yes_items = [r for r in acc["rows"] if r["gold"] == "yes"]
    assert all(r["pred"] == "yes" for r in yes_items), acc["rows"]  # the two clear-cut "yes" abstracts
    again = run_pubmedqa(s, accuracy=False, progress=False)
    assert again["index"]["unchanged"] == 4 and "accuracy" not in again


def test_pubmedqa_skips_when_absent(tmp_path):
    s = make_settings(tmp_path / "data", eval={"pubmedqa_dir": tmp_path / "missing"})
    assert "PubMedQA not found" in run_pubmedqa(s, progress=False)["skipped"]
