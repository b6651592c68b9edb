"""The published view (rag/store/view.py): opening the current version reads its files ahead."""

from __future__ import annotations

from pathlib import Path

from rag.store import view as views


def test_read_through_reads_every_byte_of_every_file(small_index):
    folder = views.current(small_index).folder
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert any(p.name == "vectors.npy" for p in files) and any(p.parent.name == "bm25" for p in files)
    assert views.read_through(folder, block=4096) == sum(p.stat().st_size for p in files)


def test_opening_the_current_version_starts_the_read_ahead_once(small_index, monkeypatch):
    started: list[Path] = []
    monkeypatch.setattr(views, "read_ahead", started.append)
    views._cache.clear()
    first = views.current(small_index)
    assert views.current(small_index) is first  # cached: no second read-ahead
    assert started == [first.folder]


def test_the_read_ahead_thread_finishes(small_index):
    thread = views.read_ahead(views.current(small_index).folder)
    thread.join(timeout=60)
    assert not thread.is_alive()
