"""`python -m bench`: the same as `rag bench`."""

import typer

from bench.cli import bench_command

typer.run(bench_command)
