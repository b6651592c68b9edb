"""One measured job in a fresh process: `python -m bench.worker TASK.json RESULT.json`.

Every job (a cold or unchanged ingest, a batch of retrievals, a batch of answers) gets its own
process so that imports and model loading are paid where a user pays them, the "first question" is
really the first of a process, and the peak RSS (getrusage of this process) is that of the job alone.
Our system is driven only through the public API (rag.ingest / retrieve / ask / stats), so the
harness keeps working while the store internals change.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()  # before the heavy imports below: "from start" includes them

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


def peak_rss_mb() -> float | None:
    """Peak resident set size of this process so far, in MiB (None where getrusage is missing)."""
    try:
        import resource
    except ImportError:  # Windows
        try:
            import psutil

            return psutil.Process().memory_info().peak_wset / 2**20
        except (ImportError, AttributeError):
            return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def since_start() -> float:
    return time.perf_counter() - T0


def our_settings(data_dir: str, chroma_port: int | None = None):
    """Default settings (environment and .env apply) with the bench's data dir, and a local store or the
    bench's `chroma run` on 127.0.0.1:`chroma_port` (the server-mode system)."""
    from rag.settings import Settings

    s = Settings(data_dir=Path(data_dir))
    host = "127.0.0.1" if chroma_port else None
    update = {"chroma_host": host, "chroma_port": chroma_port or s.index.chroma_port}
    return s.model_copy(update={"index": s.index.model_copy(update=update)})


# -- ingest --------------------------------------------------------------------------------------


def ingest_ours(task: dict) -> dict:
    import rag

    import_s = since_start()
    s = our_settings(task["data_dir"], task.get("chroma_port"))
    t = time.perf_counter()
    report = rag.ingest([Path(p) for p in task["paths"]], settings=s, progress=task.get("progress", False))
    ingest_s = time.perf_counter() - t
    chunks = rag.stats(settings=s).chunks
    return {
        "papers": report.papers,
        "chunks": chunks,
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "skipped": len(report.skipped),
        "chunks_written": report.chunks_written,
        "import_s": import_s,
        "ingest_s": ingest_s,
        "report_seconds": report.seconds,
    }


def ingest_llamaindex(task: dict) -> dict:
    from bench import baseline

    import_s = since_start()
    t = time.perf_counter()
    info = baseline.build(Path(task["data_dir"]), [Path(p) for p in task["paths"]], task.get("progress", False))
    return {**info, "import_s": import_s, "ingest_s": time.perf_counter() - t}


# -- queries -------------------------------------------------------------------------------------


def _retriever(task: dict):
    """A function question -> ranked paper ids, for the system named in the task."""
    k = task["k"]
    if task["system"] == "llamaindex":
        from bench import baseline

        return baseline.Retriever(Path(task["data_dir"]), k).paper_ids
    import rag

    s = our_settings(task["data_dir"], task.get("chroma_port"))
    mode = task["mode"]
    return lambda q: [p.paper_id for p in rag.retrieve(q, k, settings=s, mode=mode)]


def query(task: dict) -> dict:
    questions: list[dict] = task["questions"]
    t = time.perf_counter()
    search = _retriever(task)  # for llamaindex: model load and index open; ours loads lazily
    first = questions[0]
    ranked = {first["id"]: search(first["question"])}
    first_call_s = time.perf_counter() - t
    first_from_start_s = since_start()
    latencies = []
    for rep in range(task.get("repeat", 1)):
        for q in questions if rep else questions[1:]:
            t = time.perf_counter()
            ids = search(q["question"])
            latencies.append(time.perf_counter() - t)
            ranked.setdefault(q["id"], ids)
    return {
        "first_call_s": first_call_s,
        "first_from_start_s": first_from_start_s,
        "latencies_s": latencies,
        "ranked": ranked,
    }


def answer_settings(s, mode: str):
    """The bench's answer mode as settings and rag.ask's answer_mode: `extractive` (quotes alone) and
    `extractive-check` (the default answer) mean what they mean in eval.answer_modes, whatever the
    environment says; llm and auto are rag.ask's own modes."""
    if not mode.startswith("extractive"):
        return s, mode
    from eval.answer_modes import mode_settings

    return mode_settings(s, mode), "extractive"


def ask(task: dict) -> dict:
    import rag

    s, mode = answer_settings(our_settings(task["data_dir"]), task["answer_mode"])
    questions: list[dict] = task["questions"]
    out: dict[str, Any] = {"latencies_s": [], "abstained": 0, "modes": {}, "stage_s": {}}
    for i, q in enumerate(questions):
        t = time.perf_counter()
        answer = rag.ask(q["question"], settings=s, answer_mode=mode)
        dt = time.perf_counter() - t
        if i == 0:
            out["first_call_s"] = dt
            out["first_from_start_s"] = since_start()
        else:
            out["latencies_s"].append(dt)
        out["abstained"] += int(answer.abstained)
        out["modes"][answer.mode] = out["modes"].get(answer.mode, 0) + 1
        for stage, sec in answer.timings.items():
            out["stage_s"].setdefault(stage, []).append(sec)
    return out


JOBS = {"ingest-ours": ingest_ours, "ingest-llamaindex": ingest_llamaindex, "query": query, "ask": ask}


def main(argv: list[str] | None = None) -> None:
    task_path, result_path = (argv or sys.argv[1:])[:2]
    task = json.loads(Path(task_path).read_text())
    result = JOBS[task["job"]](task)
    result["peak_rss_mb"] = peak_rss_mb()
    result["process_s"] = since_start()
    Path(result_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
