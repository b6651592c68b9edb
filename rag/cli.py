"""The `rag` command. Library errors become one line on stderr and exit code 2.

Everything that comes from the corpus or a server (titles, abstracts, file names, error messages)
is printed as a rich `Text` after `printable()`: Rich markup in a title ("[/bold]", "[link=...]")
is shown, not obeyed, and escape sequences never reach the terminal.
"""

from __future__ import annotations

import functools
import sys
from contextlib import nullcontext
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rag.sanitize import printable

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Ask questions about research-paper abstracts.")
out = Console()
err = Console(stderr=True)


def inert(*parts: object, one_line: bool = True) -> Text:
    """Corpus or server text as a rich Text: markup shown literally, control characters removed.

    `one_line` also turns newlines (a file name may hold one) into spaces.
    """
    text = "".join(printable(p) for p in parts)
    return Text(text.replace("\n", " ") if one_line else text)


def edge(fn):
    """Convert library errors (and a dead server, broken store...) to one line and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from rag.errors import RagError

        try:
            return fn(*args, **kwargs)
        except RagError as exc:
            err.print(inert("error: ", exc), highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper


@app.command()
@edge
def ingest(
    paths: Annotated[
        Optional[list[Path]],
        typer.Argument(help="Files or folders (txt, jsonl, csv, bib). Default: the bundled corpus."),
    ] = None,
    rebuild: Annotated[bool, typer.Option(help="Drop the index first and re-embed everything.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Parse, deduplicate, chunk and embed abstracts into the index."""
    from rag import ingest as do_ingest

    report = do_ingest(paths, rebuild=rebuild, progress=not as_json)
    if as_json:
        print(report.model_dump_json(indent=2))
        return
    out.print(
        f"{report.files} files, {report.entries} entries -> {report.papers} unique papers: "
        f"[green]{report.added} added[/], {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.skipped)} skipped; {report.chunks_written} chunks written in {report.seconds:.1f}s"
    )
    for reason, count in sorted(report.skip_counts().items()):
        where = [f"{s.source}:{s.line}" if s.line else s.source for s in report.skipped if s.reason == reason]
        out.print(inert(f"  skipped {count} x {reason}: {', '.join(where[:5])}{' ...' if len(where) > 5 else ''}"))


@app.command()
@edge
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    k: Annotated[Optional[int], typer.Option(help="Papers to retrieve.")] = None,
    mode: Annotated[Optional[str], typer.Option(help="Retrieval: hybrid, dense or bm25.")] = None,
    date_from: Annotated[Optional[str], typer.Option(help="Only papers dated on/after YYYY-MM-DD.")] = None,
    date_to: Annotated[Optional[str], typer.Option(help="Only papers dated on/before YYYY-MM-DD.")] = None,
    source: Annotated[Optional[list[str]], typer.Option(help="Only papers from this file name (repeatable).")] = None,
    answer_mode: Annotated[
        Optional[str], typer.Option(help="extractive (default), llm or auto; see RAG_ANSWER__MODE.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole Answer as JSON.")] = False,
) -> None:
    """Answer a question with numbered citations, or say the abstracts don't answer it."""
    from rag import Filters
    from rag.errors import QuestionError

    try:
        filters = Filters(
            date_from=date.fromisoformat(date_from) if date_from else None,
            date_to=date.fromisoformat(date_to) if date_to else None,
            sources=source or None,
        )
    except ValueError as exc:
        raise QuestionError(f"bad date filter ({exc}): use YYYY-MM-DD") from None
    if mode not in (None, "hybrid", "dense", "bm25"):
        raise QuestionError(f"unknown retrieval mode '{mode}': use hybrid, dense or bm25")
    from rag.api import check_k

    check_k(k)  # before the progress display starts, so a bad value is one clean line
    answer = _answer_with_status(question, k=k, filters=filters, mode=mode, answer_mode=answer_mode)
    if as_json:
        print(answer.model_dump_json(indent=2))
        return
    out.print(inert(answer.text, one_line=False))
    out.print()
    if answer.citations:
        for c in answer.citations:
            out.print(Text.assemble((f"[{c.number}]", "bold"), " ", inert(c.title)))
    else:
        out.print("[dim]Closest papers:[/]")
        for p in answer.sources:
            out.print(inert("  - ", p.title))
    if answer.removed:
        out.print(f"[dim]{len(answer.removed)} unsupported sentence(s) removed by the verifier[/]")
    why = why_withheld(answer)
    if why is not None:
        out.print(why)
    for notice in answer.notices:
        err.print(Text.assemble(("note: ", "yellow"), inert(notice)))


def why_withheld(answer) -> Text | None:
    """One dim line on why the local model withheld the quotes (None when it did not)."""
    if not answer.abstained:
        return None
    if answer.check_reply is not None:
        from rag.llm.check import says_not_stated

        said = says_not_stated(answer.check_reply)
        tail = "; --json shows the quotes" if said else " (not supported there); --json shows the quotes"
        return Text.assemble(
            ("the local model's own answer from the closest abstract: ", "dim"),
            inert(answer.check_reply),
            (tail, "dim"),
        )
    if answer.check is not None:
        return Text(
            f"the local model read the closest passages: P(they answer) {answer.check:.2f}; --json shows the quotes",
            style="dim",
        )
    return None


def _answer_with_status(question: str, **kwargs):
    """ask_stream with progress on stderr (papers found, the model writing); returns the final Answer.

    stdout gets only the verified answer, so `rag ask ... > file` and pipes stay clean.
    """
    from rag import Answer, Preview, Sources, ask_stream

    final = None
    written = 0
    status = err.status("Searching the abstracts…", spinner="dots") if err.is_terminal else nullcontext()
    with status as shown:
        for item in ask_stream(question, **kwargs):
            if isinstance(item, Answer):
                final = item
            elif shown is None:
                continue
            elif isinstance(item, Sources):
                shown.update(f"Reading {len(item.passages)} papers…")
            elif isinstance(item, Preview):
                shown.update("Writing an answer (quoted evidence ready)…")
            else:
                written += len(item)
                shown.update(f"Writing an answer… {written} characters, checked once complete")
    return final


@app.command()
@edge
def stats(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """Papers, chunks, embedding model and store location."""
    from rag import stats as do_stats

    s = do_stats()
    if as_json:
        print(s.model_dump_json(indent=2))
        return
    table = Table(show_header=False, box=None)
    for key in ("papers", "chunks", "embedding_model", "embedding_dim", "store", "collection"):
        table.add_row(key, inert(getattr(s, key)))
    for name, n in s.sources.items():
        table.add_row(inert("  ", name), f"{n} papers")
    out.print(table)


@app.command()
@edge
def ui(
    host: Annotated[Optional[str], typer.Option(help="Interface (RAG_UI__HOST, 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (RAG_UI__PORT, 7860).")] = None,
) -> None:
    """Open the chat UI in a browser: streamed answers with clickable citations, and corpus upload."""
    from ui.cli import run

    run(host=host, port=port)


def _eval_command():
    """`rag eval`: options and implementation live in eval/cli.py (the same as `python -m eval`)."""
    from eval.cli import eval_command

    return eval_command


eval_ = app.command(name="eval")(edge(_eval_command()))


def _bench_command():
    """`rag bench`: options and implementation live in bench/cli.py (the same as `python -m bench`)."""
    from bench.cli import bench_command

    return bench_command


bench_ = app.command(name="bench")(edge(_bench_command()))


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        sys.stderr.close()


if __name__ == "__main__":
    main()
