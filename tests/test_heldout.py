"""The held-out evaluation set (eval/heldout.jsonl) is valid and FROZEN.

eval/heldout.jsonl is only for reporting quality; nothing (thresholds, prompts, weights, chunk sizes)
may be tuned on it -- tune on eval/gold.jsonl. Its sha256 is recorded below, so ANY edit to the file,
header and typo fixes included, fails this test loudly: a changed held-out set is a different set, and
numbers measured on it are no longer comparable. If a question really must change, write a new file
(e.g. eval/heldout-v2.jsonl) before looking at any results on it, and record that file's hash instead.

No models or servers: these tests read the JSONL and the bundled abstracts only.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from eval.check_gold import validate
from eval.dataset import (
    DEFAULT_DATASET,
    EXTRA_DATASET,
    HELDOUT2_DATASET,
    HELDOUT3_DATASET,
    HELDOUT_DATASET,
    NEAR_DATASET,
    load_dataset,
)

HELDOUT_SHA256 = "b02e14cf319e696697a0730de6de6e37739e35418a75985f86f8b4fbc899f564"
MINIMUMS = {"fact": 18, "which-paper": 10, "multi-paper": 10, "paraphrase": 14, "unanswerable": 22}
REPO = Path(__file__).resolve().parent.parent


def test_heldout_is_frozen():
    """Byte-for-byte the file that was written before any tuning (see the module docstring)."""
    digest = hashlib.sha256(HELDOUT_DATASET.read_bytes()).hexdigest()
    assert digest == HELDOUT_SHA256, (
        "eval/heldout.jsonl changed: the held-out set is frozen and must not be edited. "
        "Restore it (git checkout eval/heldout.jsonl); a new set goes in a new file with its own hash."
    )


def test_heldout_header_says_it_is_frozen():
    header = [line for line in HELDOUT_DATASET.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    text = " ".join(header).lower()
    assert header and HELDOUT_DATASET.read_text(encoding="utf-8").startswith("#")
    assert "held-out" in text and "frozen" in text and "sha256" in text


def test_heldout_loads_and_meets_type_minimums():
    items = load_dataset(HELDOUT_DATASET)
    counts = Counter(it.type for it in items)
    assert len(items) >= 80
    for typ, minimum in MINIMUMS.items():
        assert counts[typ] >= minimum, f"{typ}: {counts[typ]} < {minimum}"
    assert set(counts) == set(MINIMUMS)
    near = [it for it in items if not it.answerable and it.near_titles]
    assert len(near) >= 18, "at least 18 near-domain unanswerable items (with near_titles)"
    assert all(it.id and it.id.startswith("h") for it in items)
    assert all(len(it.gold_ids) >= 2 for it in items if it.type == "multi-paper")


def test_heldout_validates_against_the_corpus_and_is_mostly_new_papers():
    held, tuning = validate(HELDOUT_DATASET), validate(DEFAULT_DATASET)
    assert held["problems"] == [] and tuning["problems"] == []
    gold = set(held["gold_papers"])
    new = gold - set(tuning["gold_papers"])
    assert len(new) >= 0.75 * len(gold), f"only {len(new)} of {len(gold)} gold papers are new"
    assert held["near_items"] >= 18


def test_heldout_reuses_no_tuning_question():
    def questions(path: Path) -> set[str]:
        return {" ".join(it.question.lower().split()) for it in load_dataset(path)}

    assert not questions(HELDOUT_DATASET) & questions(DEFAULT_DATASET)


def test_check_gold_cli_passes_on_heldout():
    proc = subprocess.run(
        [sys.executable, "eval/check_gold.py", "--gold", "eval/heldout.jsonl"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("OK")


def _row(**kw) -> dict:
    base = {
        "id": "h001",
        "question": "q?",
        "type": "unanswerable",
        "gold_titles": [],
        "answer": "",
        "must_include": [],
        "answerable": False,
    }
    return {**base, **kw}


def test_check_gold_rejects_bad_near_titles(tmp_path):
    first = load_dataset(HELDOUT_DATASET)[0]
    title = first.gold_titles[0]
    rows = [
        "# a header line is skipped",
        json.dumps(_row(near_titles=[title])),
        json.dumps(_row(id="h002", near_titles=["No Such Paper"])),
        json.dumps(
            _row(
                id="h003",
                type="fact",
                gold_titles=[title],
                answer="a",
                must_include=first.must_include,
                answerable=True,
                near_titles=[title],
            )
        ),
        json.dumps(_row(id="g004")),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    problems = validate(path)["problems"]
    assert any("h002" in p and "near title not found" in p for p in problems)
    assert any("h003" in p and "only allowed on unanswerable" in p for p in problems)
    assert any("mix prefixes" in p for p in problems)
    assert not any("(h001)" in p for p in problems)
    assert len(problems) == 3


# --- the second held-out set (eval/heldout2.jsonl, 2026-12-05) -----------------------------------------
# Written by a writer who never ran the system, after the first held-out set had been looked at once per
# decision for many sessions; frozen at its first commit, before any result on it was seen.
HELDOUT2_SHA256 = "5fdfaa3b2aa75f203fb04212647571d5021be8fd6a04184e4d7e395748167fda"


def test_heldout2_is_frozen_and_valid():
    assert hashlib.sha256(HELDOUT2_DATASET.read_bytes()).hexdigest() == HELDOUT2_SHA256, (
        "eval/heldout2.jsonl changed: it is frozen. Restore it (git checkout eval/heldout2.jsonl)."
    )
    header = HELDOUT2_DATASET.read_text(encoding="utf-8").splitlines()[0].lower()
    assert "held-out" in header and "frozen" in header
    items = load_dataset(HELDOUT2_DATASET)
    assert len(items) >= 60 and sum(not it.answerable for it in items) >= 15
    assert all(it.id and it.id.startswith("k") for it in items)
    assert validate(HELDOUT2_DATASET)["problems"] == []


def test_heldout2_reuses_no_question_of_another_set():
    def questions(path: Path) -> set[str]:
        return {" ".join(it.question.lower().split()) for it in load_dataset(path)}

    others = set().union(*(questions(p) for p in (DEFAULT_DATASET, NEAR_DATASET, EXTRA_DATASET, HELDOUT_DATASET)))
    assert not questions(HELDOUT2_DATASET) & others


# --- the third held-out set (eval/heldout3.jsonl, 2026-12-05) ------------------------------------------
# The second set had five runs and one default decision on it by then. Written by a helper that saw only
# the bundled abstracts (no code, no other set, no result), ids renamed t -> m so they cannot be confused
# with eval/tune_near.jsonl's, then frozen at its first commit, before any run on it.
HELDOUT3_SHA256 = "1055810acac42a875bd9deacf5a1e485328d88e1f1e89c4ea3e28db3cfe1fd14"


def test_heldout3_is_frozen_and_valid():
    assert hashlib.sha256(HELDOUT3_DATASET.read_bytes()).hexdigest() == HELDOUT3_SHA256, (
        "eval/heldout3.jsonl changed: it is frozen. Restore it (git checkout eval/heldout3.jsonl)."
    )
    header = HELDOUT3_DATASET.read_text(encoding="utf-8").splitlines()[0].lower()
    assert "held-out" in header and "frozen" in header and "sha256" in header
    items = load_dataset(HELDOUT3_DATASET)
    counts = Counter(it.type for it in items)
    assert len(items) == 80 and counts["unanswerable"] == 26 and counts["multi-paper"] == 12
    assert all(it.near_titles for it in items if not it.answerable)
    assert all(it.id and it.id.startswith("m") for it in items)
    assert validate(HELDOUT3_DATASET)["problems"] == []


def test_heldout3_reuses_no_question_of_another_set():
    def questions(path: Path) -> set[str]:
        return {" ".join(it.question.lower().split()) for it in load_dataset(path)}

    sets = (DEFAULT_DATASET, NEAR_DATASET, EXTRA_DATASET, HELDOUT_DATASET, HELDOUT2_DATASET)
    assert not questions(HELDOUT3_DATASET) & set().union(*(questions(p) for p in sets))
