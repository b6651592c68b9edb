"""`python -m eval ...`: the same command as `rag eval`."""

from __future__ import annotations

import typer

from eval.cli import eval_command
from rag.cli import edge


def main() -> None:
    typer.run(edge(eval_command))


if __name__ == "__main__":
    main()
