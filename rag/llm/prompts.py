"""Prompt templates live as files in prompts/ and are rendered strictly.

A template's placeholders must be exactly the values passed: a missing one would send a literal
"{question}" to the model and an extra one would silently drop data, so both are errors.
`FIELDS` declares what each template receives; tests/test_prompts.py checks the files against it.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

import rag
from rag.errors import ConfigError

PROMPTS_DIR = Path(rag.__file__).resolve().parent.parent / "prompts"

#: template name (file stem) -> the placeholders the code fills in.
FIELDS: dict[str, frozenset[str]] = {
    "evidence_source": frozenset({"number", "title", "text"}),
    "answer_completion": frozenset({"sources", "question", "no_answer"}),
    "answer_system": frozenset({"no_answer"}),
    "answer_user": frozenset({"sources", "question"}),
    "example_user": frozenset(),
    "example_assistant": frozenset(),
    "example_paper_user": frozenset(),
    "example_paper_assistant": frozenset(),
    "example_decline_user": frozenset(),
    "example_decline_assistant": frozenset({"no_answer"}),
    "check_system": frozenset(),
    "check_user": frozenset({"excerpts", "question"}),
    "check_reply_system": frozenset(),
    "check_reply_user": frozenset({"excerpts", "question"}),
}

#: What the prompts tell the model to say when the sources lack the answer; detected afterwards.
NO_ANSWER = "The sources do not answer this question."


def placeholders(template: str) -> set[str]:
    """Named fields of a str.format template; positional, attribute and index fields are refused."""
    names: set[str] = set()
    for _, field, spec, conversion in string.Formatter().parse(template):
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ConfigError(
                f"prompt placeholder {{{field}}} is not a plain name: use {{name}} and write literal braces "
                "as {{ and }}"
            )
        names.add(field)
    return names


@cache
def load_template(name: str) -> str:
    """The template text without its final newline (so a completion prompt ends right at 'Answer:')."""
    path = PROMPTS_DIR / f"{name}.txt"
    try:
        return path.read_text(encoding="utf-8").rstrip("\n")
    except OSError as exc:
        raise ConfigError(
            f"prompt template {path} cannot be read ({exc}): restore it from the repository"
        ) from exc


def render(name: str, **values: object) -> str:
    """Fill template `name` with exactly its placeholders; anything else is a ConfigError."""
    template = load_template(name)
    have = placeholders(template)
    missing, extra = sorted(have - values.keys()), sorted(values.keys() - have)
    if missing or extra:
        raise ConfigError(
            f"prompt {PROMPTS_DIR / name}.txt does not match the code (placeholders not filled: {missing}; "
            f"values with no placeholder: {extra}): fix the template's {{placeholders}}"
        )
    return template.format(**{k: str(v) for k, v in values.items()})
