"""The bench's outputs: a rich table (stdout and table.txt) and bench.png (latency, memory, recall by size)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table


def _f(x, fmt: str = "{:.1f}", none: str = "—") -> str:
    return none if x is None else fmt.format(x)


def _x(r) -> str:
    return "—" if r is None else f"×{r:.2f}"


STORE_OF = {"ours": "ours", "bm25": "ours", "dense": "ours", "server": "server", "llamaindex": "llamaindex"}
LABEL = {
    "ours": "ours (hybrid)",
    "bm25": "ours, BM25 only",
    "dense": "ours, dense only",
    "server": "ours, Chroma server",
    "llamaindex": "LlamaIndex",
}


def ingest_table(results: dict) -> Table:
    t = Table(title="Ingest and store (cold = empty store, fresh process, model load included)")
    for col in ("papers", "store", "cold ingest\ns", "papers/s", "papers/s\n÷ ours", "unchanged\nre-run s",
                "chunks", "store\nMB", "peak RSS\nMB"):
        t.add_column(col, justify="left" if col == "store" else "right")
    for entry in results["sizes"]:
        ours = entry["stores"].get("ours")
        for i, (name, st) in enumerate(entry["stores"].items()):
            cold = st["ingest_cold"]
            ratio = None
            if ours and name != "ours":
                ratio = cold["papers_per_s"] / ours["ingest_cold"]["papers_per_s"]
            t.add_row(
                f"{entry['size']:,}" if i == 0 else "",
                LABEL.get(name, name).replace(" (hybrid)", ""),
                _f(cold["wall_s"]) + ("*" if st.get("cached") else ""),
                _f(cold["papers_per_s"]),
                _x(ratio),
                _f(st.get("ingest_rerun", {}).get("wall_s")),
                f"{cold['chunks']:,}",
                _f(st["store_bytes"] / 2**20),
                _f(cold["peak_rss_mb"], "{:.0f}"),
            )
        t.add_section()
    return t


def query_table(results: dict) -> Table:
    k = results["config"]["k"]
    sets = list(results.get("questions", {}))
    t = Table(title=f"Retrieval, k={k} papers (ratios = system ÷ ours: >1 latency is slower, <1 recall is worse)")
    for col in ("papers", "system", "first query\ns", "p50\nms", "p95\nms", *[f"recall@{k}\n{s}" for s in sets],
                "peak RSS\nMB", "p50\n÷ ours", "p95\n÷ ours", f"recall@{k}\n÷ ours"):
        t.add_column(col, justify="left" if col == "system" else "right")
    for entry in results["sizes"]:
        for i, (name, q) in enumerate(entry["systems"].items()):
            r = entry.get("ratios", {}).get(name, {})
            t.add_row(
                f"{entry['size']:,}" if i == 0 else "",
                LABEL.get(name, name),
                _f(q["first_from_start_s"]),
                _f(q["p50_ms"], "{:.0f}"),
                _f(q["p95_ms"], "{:.0f}"),
                *[_f(q["recall"].get(s), "{:.3f}") for s in sets],
                _f(q["peak_rss_mb"], "{:.0f}"),
                _x(r.get("p50")),
                _x(r.get("p95")),
                _x(r.get("recall", {}).get("all")),
            )
        t.add_section()
    return t


def ask_table(results: dict) -> Table | None:
    if not any(e["ask"] for e in results["sizes"]):
        return None
    a = Table(title="ask() per answer mode (our store)")
    for col in ("papers", "mode", "questions", "first answer\ns from start", "p50\ns", "p95\ns", "abstained",
                "answered by", "peak RSS\nMB"):
        a.add_column(col, justify="left" if col in ("mode", "answered by") else "right")
    for entry in results["sizes"]:
        for i, (mode, s) in enumerate((m, s) for m, s in entry["ask"].items() if s):
            a.add_row(
                f"{entry['size']:,}" if i == 0 else "", mode, str(s["questions"]),
                _f(s["first_from_start_s"]), _f(s["p50_s"], "{:.2f}"), _f(s["p95_s"], "{:.2f}"),
                str(s["abstained"]), ", ".join(f"{m} {n}" for m, n in s["answered_by"].items()),
                _f(s["peak_rss_mb"], "{:.0f}"),
            )
        a.add_section()
    return a


def tables(results: dict) -> list[Table]:
    return [t for t in (ingest_table(results), query_table(results), ask_table(results)) if t is not None]


def footer(results: dict) -> list[str]:
    m = results["machine"]
    lines = [
        f"{m['cpu']}, {m['usable_cores']} cores, {m['ram_gib']} GiB RAM, python {m['python']}; "
        f"load average {m.get('load_average_start')} -> {m.get('load_average_end')}; "
        f"commit {str(m['git'].get('commit'))[:10]}{' (dirty)' if m['git'].get('dirty') else ''}; {m['date']}",
        "first query = process start to first result (imports, model and index loading included); "
        "p50/p95 = the other questions, warm; peak RSS = the process doing that job. "
        "* = cold ingest measured when the cached store was built.",
    ]
    lines += [f"note: {n}" for n in results.get("notes", [])]
    return lines


def print_tables(results: dict, console: Console) -> None:
    for t in tables(results):
        console.print(t)
    for line in footer(results):
        console.print(line, markup=False, highlight=False)


def plot(results: dict, path: Path) -> Path | None:
    """Latency p50/p95, peak RSS and recall@k against corpus size, one line per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = results["sizes"]
    if not entries:
        return None
    systems = list(dict.fromkeys(s for e in entries for s in e["systems"]))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for i, name in enumerate(systems):
        color = f"C{i}"
        pts = [(e["size"], e["systems"][name]) for e in entries if name in e["systems"]]
        xs = [x for x, _ in pts]
        axes[0].plot(xs, [q["p50_ms"] for _, q in pts], "o-", color=color, label=f"{name} p50")
        axes[0].plot(xs, [q["p95_ms"] for _, q in pts], "s--", color=color, label=f"{name} p95")
        axes[1].plot(xs, [q["peak_rss_mb"] for _, q in pts], "o-", color=color, label=f"{name} query")
        axes[2].plot(xs, [q["recall"].get("all") for _, q in pts], "o-", color=color, label=name)
    for j, store in enumerate(("ours", "server", "llamaindex")):
        pts = [(e["size"], e["stores"][store]["ingest_cold"]["peak_rss_mb"]) for e in entries if store in e["stores"]]
        if pts:
            axes[1].plot(*zip(*pts), "^:", color=f"C{systems.index(store) if store in systems else 5 + j}",
                         label=f"{store} cold ingest")
    k = results["config"]["k"]
    for ax, title, ylabel in (
        (axes[0], "retrieval latency (warm)", "ms per question"),
        (axes[1], "peak RSS of the process", "MiB"),
        (axes[2], f"recall@{k} (tuning + held-out questions)", f"recall@{k}"),
    ):
        ax.set_xscale("log")
        ax.set_xlabel("papers in the corpus")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    sizes = [e["size"] for e in entries]
    for ax in axes:
        ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
        ax.minorticks_off()
    axes[0].set_yscale("log")
    axes[2].set_ylim(0, 1.02)
    m = results["machine"]
    fig.suptitle(f"rag bench — {m['cpu']}, {m['usable_cores']} cores, {m['date'][:10]}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write(results: dict, folder: Path, console: Console | None = None) -> None:
    """Print the tables, and save them as table.txt and the plot as bench.png."""
    console = console or Console(width=None if sys.stdout.isatty() else 160)
    print_tables(results, console)
    rec = Console(record=True, width=200, file=io.StringIO())
    print_tables(results, rec)
    (folder / "table.txt").write_text(rec.export_text())
    plot(results, folder / "bench.png")
    console.print(f"results: {folder / 'results.json'}, {folder / 'table.txt'}, {folder / 'bench.png'}")
