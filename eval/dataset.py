"""Evaluation datasets (JSONL), validated on load so that a typo fails loudly with file and line.

One JSON object per line:
    {"id": "g001", "question": "...", "type": "fact", "gold_titles": ["..."], "answer": "...",
     "must_include": ["2.59"], "answerable": true}
`gold_paper_ids` may replace or complement `gold_titles`; `id` and `type` are optional.
Unanswerable items may name `near_titles`: the paper the question is about even though its abstract
lacks the answer (so retrieval can still be judged on them).
Blank lines and lines starting with "#" are skipped, so a file can carry a header (eval/heldout.jsonl
records there that it is frozen).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rag.corpus.records import paper_id_for
from rag.errors import RagError

DEFAULT_DATASET = Path(__file__).resolve().parent / "gold.jsonl"
HELDOUT_DATASET = Path(__file__).resolve().parent / "heldout.jsonl"
HELDOUT2_DATASET = Path(__file__).resolve().parent / "heldout2.jsonl"  # second held-out set, 2026-12-05
HELDOUT3_DATASET = Path(__file__).resolve().parent / "heldout3.jsonl"  # third, written blind 2026-12-05
NEAR_DATASET = Path(__file__).resolve().parent / "tune_near.jsonl"  # tuning: near-domain detail questions
EXTRA_DATASET = Path(__file__).resolve().parent / "tune_extra.jsonl"  # tuning: a third set, all question types


class DatasetError(RagError):
    """The evaluation dataset cannot be used; the message names the file and line."""


class GoldItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, description="Stable id; defaults to the line number.")
    question: str
    type: str | None = Field(None, description="Question type, for the per-type breakdown.")
    gold_titles: list[str] = Field(default_factory=list, description="Titles of the papers that answer it.")
    gold_paper_ids: list[str] = Field(default_factory=list, description="Or their paper ids.")
    answer: str = Field("", description="Reference answer (for reading; not scored).")
    must_include: list[str] = Field(default_factory=list, description="Key facts the answer must contain.")
    answerable: bool = True
    near_titles: list[str] = Field(
        default_factory=list,
        description="Unanswerable items only: titles of the papers the question is about (they lack the answer).",
    )

    @field_validator("question")
    @classmethod
    def _non_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the question is empty")
        return v

    @model_validator(mode="after")
    def _gold_matches_answerable(self) -> GoldItem:
        has_gold = bool(self.gold_titles or self.gold_paper_ids)
        if self.answerable and not has_gold:
            raise ValueError("an answerable item needs gold_titles or gold_paper_ids")
        if not self.answerable and (has_gold or self.must_include):
            raise ValueError("an unanswerable item must not have gold papers or must_include")
        if self.answerable and self.near_titles:
            raise ValueError("near_titles is only for unanswerable items; use gold_titles")
        return self

    @property
    def gold_ids(self) -> list[str]:
        """Paper ids of the gold papers, in the order given, without repeats."""
        ids = [paper_id_for(t) for t in self.gold_titles] + list(self.gold_paper_ids)
        return list(dict.fromkeys(ids))

    @property
    def near_ids(self) -> list[str]:
        """Paper ids of the near titles (unanswerable items), in order, without repeats."""
        return list(dict.fromkeys(paper_id_for(t) for t in self.near_titles))


def load_dataset(path: Path | str) -> list[GoldItem]:
    """Parse and validate every line; the first problem raises DatasetError naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no dataset at {path}: pass --dataset PATH (JSONL)")
    items: list[GoldItem] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(
                    f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})"
                ) from None
            if not isinstance(raw, dict):
                raise DatasetError(f"{path}:{lineno}: expected a JSON object, got {type(raw).__name__}")
            try:
                item = GoldItem.model_validate(raw)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"]) or "item"
                raise DatasetError(f"{path}:{lineno}: {where}: {err['msg']}") from None
            if item.id is None:
                item.id = f"line{lineno}"
            if item.id in seen:
                raise DatasetError(f"{path}:{lineno}: id {item.id!r} already used on line {seen[item.id]}")
            seen[item.id] = lineno
            items.append(item)
    if not items:
        raise DatasetError(f"{path}: no items")
    return items
