"""How good is the offline citation checker? Precision/recall/F1 on eval/checker_set.jsonl.

"Positive" means the checker flags the sentence as unsupported. Per perturbation type the scores
are computed on that type's items plus the faithful items of the same split, so a type's
precision counts the faithful sentences wrongly flagged. The thresholds in rag/verify.py were
chosen on the dev split; the test split is for reporting.

    python -m eval.checker [--split test] [--embeddings]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from rag.corpus.loader import load_corpus
from rag.models import Passage

CHECKER_SET = Path(__file__).resolve().parent / "checker_set.jsonl"
# Hand-written, LLM-style paraphrases and natural mistakes (contradictions in new words): a check
# that the templated set cannot give, reported separately and never used for tuning.
NATURAL_SET = Path(__file__).resolve().parent / "checker_natural.jsonl"
UNFAITHFUL_TYPES = ("number_swap", "entity_swap", "negation", "unsupported_added", "wrong_paper")


class CitedRef(BaseModel):
    paper_id: str
    title: str


class CheckerItem(BaseModel):
    id: str
    type: str
    variant: str
    label: str
    split: str
    sentence: str
    cited: list[CitedRef]
    source_paper_id: str
    original: str


def load_checker_set(path: Path = CHECKER_SET) -> list[tuple[CheckerItem, list[Passage]]]:
    """Items with their cited abstracts resolved from the bundled corpus."""
    papers, _, _, _ = load_corpus()
    by_id = {p.paper_id: p for p in papers}
    out = []
    with path.open() as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                item = CheckerItem.model_validate_json(line)
            except ValidationError as exc:
                raise ValueError(f"{path}:{lineno}: {exc.errors()[0]['msg']}") from None
            passages = []
            for ref in item.cited:
                paper = by_id.get(ref.paper_id)
                if paper is None:
                    raise ValueError(
                        f"{path}:{lineno}: cited paper {ref.paper_id} ({ref.title!r}) not in corpus"
                    )
                passages.append(
                    Passage(paper_id=paper.paper_id, title=paper.title, text=paper.abstract, score=1.0)
                )
            out.append((item, passages))
    return out


@dataclass
class PRF:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
        }


def prf(flags: list[bool], unfaithful: list[bool]) -> PRF:
    out = PRF()
    for flag, bad in zip(flags, unfaithful, strict=False):
        if flag and bad:
            out.tp += 1
        elif flag:
            out.fp += 1
        elif bad:
            out.fn += 1
        else:
            out.tn += 1
    return out


Check = Callable[[str, list[Passage]], bool]
"""(sentence with [n] markers, cited passages) -> True when the checker accepts it as supported."""


def evaluate(
    items: list[tuple[CheckerItem, list[Passage]]], supported: Check, split: str | None = "test"
) -> dict:
    """Scores overall and per type, plus the false-flag rate on each faithful variant."""
    chosen = [(it, ps) for it, ps in items if split in (None, "all") or it.split == split]
    if not chosen:
        raise ValueError(f"no items in split {split!r}")
    t0 = time.perf_counter()
    flags = [not supported(it.sentence, ps) for it, ps in chosen]
    seconds = time.perf_counter() - t0
    bad = [it.label == "unfaithful" for it, _ in chosen]
    faithful = [i for i, (it, _) in enumerate(chosen) if it.type == "faithful"]
    per_type = {}
    present = {it.type for it, _ in chosen if it.label == "unfaithful"}
    types = [t for t in UNFAITHFUL_TYPES if t in present] + sorted(present - set(UNFAITHFUL_TYPES))
    for t in types:
        idx = faithful + [i for i, (it, _) in enumerate(chosen) if it.type == t]
        per_type[t] = prf([flags[i] for i in idx], [bad[i] for i in idx]).as_dict()
        per_type[t]["n"] = len(idx) - len(faithful)
    variants: dict[str, list[bool]] = {}
    for (it, _), flag in zip(chosen, flags, strict=False):
        variants.setdefault(f"{it.type}/{it.variant}", []).append(flag)
    return {
        "split": split or "all",
        "n": len(chosen),
        "overall": prf(flags, bad).as_dict(),
        "per_type": per_type,
        "faithful_false_flag_rate": round(sum(flags[i] for i in faithful) / max(len(faithful), 1), 4),
        "flag_rate_by_variant": {k: round(sum(v) / len(v), 3) for k, v in sorted(variants.items())},
        "n_by_variant": {k: len(v) for k, v in sorted(variants.items())},
        "seconds": round(seconds, 2),
        "missed": [it.id for (it, _), f, b in zip(chosen, flags, bad, strict=False) if b and not f],
        "false_flags": [it.id for (it, _), f, b in zip(chosen, flags, bad, strict=False) if f and not b],
    }


def offline_check(embedder=None) -> Check:
    """The production gate's sentence check, optionally with the embedding signal."""
    from rag.verify import check_sentence

    def supported(sentence: str, passages: list[Passage]) -> bool:
        return check_sentence(sentence, passages, embedder=embedder).supported

    return supported


def format_table(result: dict) -> str:
    """Markdown table of P/R/F1 per type."""
    rows = ["| type | n | precision | recall | F1 |", "|---|---:|---:|---:|---:|"]
    for t, m in result["per_type"].items():
        rows.append(f"| {t} | {m['n']} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} |")
    o = result["overall"]
    rows.append(f"| **overall** | {result['n']} | {o['precision']:.3f} | {o['recall']:.3f} | {o['f1']:.3f} |")
    rows.append("")
    rows.append(f"Faithful sentences wrongly flagged: {result['faithful_false_flag_rate']:.1%}.")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Score the offline citation checker on eval/checker_set.jsonl.")
    ap.add_argument(
        "--split",
        default="test",
        choices=["dev", "test", "all", "natural"],
        help="natural: the hand-written set eval/checker_natural.jsonl",
    )
    ap.add_argument("--embeddings", action="store_true", help="Add the MiniLM similarity signal.")
    ap.add_argument("--path", type=Path, default=None, help="Another labeled set in the same format.")
    ap.add_argument("--json", action="store_true", help="Print the full result as JSON.")
    ap.add_argument("--show-errors", type=int, default=0, help="Print this many misses and false flags.")
    args = ap.parse_args(argv)
    embedder = None
    if args.embeddings:
        from rag.embeddings import get_embedder
        from rag.settings import Settings

        embedder = get_embedder(Settings(_env_file=None))
    path = args.path or (NATURAL_SET if args.split == "natural" else CHECKER_SET)
    items = load_checker_set(path)
    result = evaluate(items, offline_check(embedder), args.split)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"split={result['split']} items={result['n']} embeddings={args.embeddings} ({result['seconds']}s)")
    print(format_table(result))
    if args.show_errors:
        from rag.verify import check_sentence

        by_id = {it.id: (it, ps) for it, ps in items}
        for label, ids in (("MISSED", result["missed"]), ("FALSE FLAG", result["false_flags"])):
            for i in ids[: args.show_errors]:
                it, ps = by_id[i]
                c = check_sentence(it.sentence, ps, embedder=embedder)
                print(f"\n{label} {it.id} {it.type}/{it.variant} support={c.support} reasons={c.reasons}")
                print(f"  orig: {it.original}")
                print(f"  sent: {it.sentence}")
                print(f"  cited: {[p.title for p in ps]}")


if __name__ == "__main__":
    main()
