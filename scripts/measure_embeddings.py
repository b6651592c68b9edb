"""Ingest-embedding engines on the bundled corpus's chunks: seconds and cosine to fp32.

    python scripts/measure_embeddings.py            # idle machine; ~2 min on 2 cores

Compares one batch at a time on all torch threads against parallel batches on one thread each,
fp32 against bf16 weights (rag.meanpool), and prints the minimum cosine of each to fp32 vectors.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rag.corpus.loader import load_corpus  # noqa: E402
from rag.embeddings import _local_model_path  # noqa: E402
from rag.index import Index, _Change  # noqa: E402
from rag.meanpool import MeanPoolModel  # noqa: E402
from rag.settings import Settings  # noqa: E402


def chunk_texts(settings: Settings) -> list[str]:
    papers, _, _, _ = load_corpus(None, settings.index.max_file_bytes)
    changes = [_Change(p, "", None) for p in papers]
    Index(settings)._chunk(changes)
    return sorted((t for ch in changes for t in ch.embed_texts), key=len)


def run(model: MeanPoolModel, texts: list[str], threads: int, workers: int, batch: int) -> tuple[float, np.ndarray]:
    torch.set_num_threads(threads)
    batches = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(model.encode, batches))
    return time.perf_counter() - start, np.concatenate(parts)


def main() -> None:
    settings = Settings()
    texts = chunk_texts(settings)
    path = _local_model_path(settings.embedding.model, settings.data_dir / "models")
    fp32 = MeanPoolModel(path, torch.float32)
    bf16 = MeanPoolModel(path, torch.bfloat16)
    cores = os.cpu_count() or 1
    ref = None
    print(f"{len(texts)} chunks, {cores} cores")
    for name, model, threads, workers, batch in [
        ("fp32", fp32, cores, 1, 32),
        ("bf16", bf16, cores, 1, 32),
        ("bf16", bf16, 1, 1, 32),
        ("bf16", bf16, 1, cores, 32),
        ("bf16", bf16, 1, cores, 16),
    ]:
        seconds, vecs = run(model, texts, threads, workers, batch)
        ref = vecs if ref is None else ref
        cos = float((vecs * ref).sum(axis=1).min())
        print(f"{name} threads={threads} workers={workers} batch={batch}: {seconds:.2f} s, min cosine {cos:.5f}")


if __name__ == "__main__":
    main()
