"""Column files of a published view: numpy arrays and memory-mapped UTF-8 string columns.

A string column is `<name>.bin` (the strings' UTF-8 bytes, concatenated) plus `<name>.off.npy`
(n+1 byte offsets). Opening one maps the file and reads nothing; `col[i]` decodes one string. So a
process opens a 100k-paper view in milliseconds and only ever decodes the strings it shows. numpy has
no variable-length string array that maps from disk, and JSON/pickle load everything up front: hence
these twenty lines.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np


class Strings(Sequence[str]):
    """A read-only string column backed by a mapped file."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray):
        self._blob = blob
        self._off = offsets

    @classmethod
    def open(cls, folder: Path, name: str) -> Strings:
        offsets = np.load(folder / f"{name}.off.npy", mmap_mode="r")
        path = folder / f"{name}.bin"
        size = path.stat().st_size
        blob = np.memmap(path, dtype=np.uint8, mode="r") if size else np.empty(0, dtype=np.uint8)
        return cls(blob, offsets)

    def __len__(self) -> int:
        return len(self._off) - 1

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        lo, hi = int(self._off[i]), int(self._off[i + 1])
        return self._blob[lo:hi].tobytes().decode("utf-8")


def write_strings(folder: Path, name: str, values: Iterable[str]) -> None:
    offsets = [0]
    with open(folder / f"{name}.bin", "wb") as f:
        for v in values:
            data = (v or "").encode("utf-8")
            f.write(data)
            offsets.append(offsets[-1] + len(data))
        f.flush()
        os.fsync(f.fileno())
    write_array(folder, f"{name}.off", np.asarray(offsets, dtype=np.int64))


def write_array(folder: Path, name: str, array: np.ndarray) -> None:
    with open(folder / f"{name}.npy", "wb") as f:
        np.save(f, array)
        f.flush()
        os.fsync(f.fileno())


def open_array(folder: Path, name: str) -> np.ndarray:
    return np.load(folder / f"{name}.npy", mmap_mode="r")
