"""The writer's lock and journal: one ingest at a time, and no orphan left in Chroma after a crash.

The journal (`JOURNAL` next to the views) lists every Chroma chunk id an unfinished ingest may have
left behind: the chunks it was about to write and the old versions it was about to delete. It is
written (atomically) before the first Chroma write and removed after the last delete, and a crashed
run's ids are carried into the next run's journal, so the next ingest that completes deletes
exactly the listed ids that its published view does not use. `rebuild` records that a
`--rebuild` dropped the collection, so an interrupted rebuild is finished by the next ingest.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import StoreError


@dataclass
class Journal:
    path: Path
    pending: set[str] = field(default_factory=set)
    rebuild: bool = False

    @classmethod
    def load(cls, root: Path) -> Journal:
        path = root / "JOURNAL"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(path)
        except ValueError:
            # A torn journal cannot happen (it is replaced atomically); a hand-edited one is not trusted.
            raise StoreError(
                f"the ingest journal {path} is damaged: delete it and run `rag ingest --rebuild`"
            ) from None
        return cls(path, set(data.get("pending", [])), bool(data.get("rebuild", False)))

    @property
    def dirty(self) -> bool:
        return bool(self.pending) or self.rebuild

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump({"pending": sorted(self.pending), "rebuild": self.rebuild}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.pending.clear()
        self.rebuild = False
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


@contextmanager
def writer_lock(root: Path, timeout: float) -> Iterator[None]:
    """Exclusive across processes (flock; the kernel releases it when the holder dies, even by kill -9)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(
            f"cannot write to the index folder {root} ({exc.strerror}): check its permissions and free space"
        ) from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"another `rag ingest` has held the index at {root} for {timeout:.0f} s: "
                        "wait for it to finish (RAG_INDEX__LOCK_TIMEOUT sets how long to wait)"
                    ) from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)
