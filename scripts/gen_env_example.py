"""Write .env.example and the README's configuration table from the Settings model.

    python scripts/gen_env_example.py   (tests/test_settings.py fails when either is stale)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from rag.settings import Settings

HEADER = """\
# Copy to .env and uncomment what you change. Every variable is optional: the defaults run fully
# offline (packaged MiniLM embeddings, extractive answers, embedded llama.cpp for LLM answers).
# Nested settings are RAG_<SECTION>__<FIELD>.
"""


def _default(field) -> str:
    if field.default_factory is not None:
        return ""
    value = field.default
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def variables() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting, nested sections flattened."""
    out = []
    for name, field in Settings.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            for sub, subfield in ann.model_fields.items():
                out.append((f"RAG_{name.upper()}__{sub.upper()}", _default(subfield), subfield.description or ""))
            continue
        alias = field.validation_alias
        var = alias.choices[0] if alias is not None else f"RAG_{name.upper()}"
        out.append((var, _default(field), field.description or ""))
    return out


def render() -> str:
    lines = [HEADER]
    section = None
    for var, default, desc in variables():
        head = var.split("__")[0] if "__" in var else "general"
        if head != section:
            section = head
            lines.append(f"\n# --- {head} ---")
        lines.append(f"# {desc}")
        lines.append(f"# {var}={default}")
    return "\n".join(lines) + "\n"


START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def render_markdown() -> str:
    rows = ["| variable | default | what it does |", "|---|---|---|"]
    for var, default, desc in variables():
        rows.append(f"| `{var}` | {f'`{default}`' if default else ''} | {desc.replace('|', '/')} |")
    return "\n".join(rows)


def readme_with_table(readme: str) -> str:
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{render_markdown()}\n{END}{tail}"


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    (root / ".env.example").write_text(render())
    readme = root / "README.md"
    if readme.exists() and START in readme.read_text():
        readme.write_text(readme_with_table(readme.read_text()))
    print(f"wrote .env.example and the README table ({len(variables())} variables)")
