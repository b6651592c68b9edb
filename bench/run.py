"""`rag bench`: build (or reuse) a store per corpus size and system, time every job in a fresh process.

Per corpus size: the corpus (bundled papers + a deterministic synthetic JSONL, bench.synth), our store
(cold ingest into an empty data dir, then an unchanged re-run), the same through a `chroma run` server
on loopback if the `server` system is asked for, the plain LlamaIndex store (bench.baseline), then one
query process per system (our hybrid, BM25 alone, dense alone if asked, server mode, LlamaIndex) over
the tuning questions (eval/gold.jsonl, plus eval/heldout.jsonl when present) and one `ask()` process
per answer mode. Corpora and stores are cached under <data dir>/bench/ and reused until `--fresh`:
cold-ingest numbers then come from the run that built the store (marked cached).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import machine
from bench.chroma_server import ChromaServer, free_port
from bench.synth import DEFAULT_SEED, GENERATOR_VERSION, bundled_papers, synthesize
from rag.errors import RagError

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
# system -> (store it reads, retrieval mode of our retrieve())
SYSTEMS: dict[str, tuple[str, str | None]] = {
    "ours": ("ours", "hybrid"),
    "bm25": ("ours", "bm25"),
    "dense": ("ours", "dense"),
    "server": ("server", "hybrid"),  # ours, with Chroma in client/server mode (a `chroma run` on 127.0.0.1)
    "llamaindex": ("llamaindex", None),
}
OUR_STORES = ("ours", "server")
DEFAULT_SYSTEMS = ("ours", "bm25", "llamaindex")
ANSWER_MODES = ("extractive", "extractive-check", "llm", "auto")  # extractive: quotes alone; -check: the default
SCHEMA = 1


class BenchError(RagError):
    """The benchmark cannot go on; the message says what failed and where its log is."""


@dataclass
class BenchConfig:
    sizes: list[int] = field(default_factory=lambda: [371, 10_000])
    systems: list[str] = field(default_factory=lambda: list(DEFAULT_SYSTEMS))
    seed: int = DEFAULT_SEED
    pubmedqa: bool = True  # mix PubMedQA's abstracts in when ori_pqal.json is present
    pubmedqa_file: Path | None = None  # default: RAG_EVAL__PUBMEDQA_DIR or ../shared/benchmarks/pubmedqa
    fresh: bool = False
    data_dir: Path | None = None  # default: <RAG_DATA_DIR>/bench
    out: Path | None = None  # default: bench/results/<timestamp>
    questions: int | None = None  # default: all
    ask_questions: int = 20
    answer_modes: list[str] = field(default_factory=lambda: ["extractive", "extractive-check"])
    check_questions: int = 10
    llm_questions: int = 3
    k: int = 5
    repeat: int = 1

    def questions_for(self, mode: str) -> int:
        """How many questions an answer mode is timed on."""
        if mode == "extractive":
            return self.ask_questions
        return self.check_questions if mode == "extractive-check" else self.llm_questions

    def timed_answer_modes(self) -> list[str]:
        """The answer modes with questions to time: with none, no store of ours is built for them."""
        return [m for m in self.answer_modes if self.questions_for(m)]

    def validate(self) -> None:
        unknown = [s for s in self.systems if s not in SYSTEMS]
        if unknown:
            raise BenchError(f"unknown system(s) {', '.join(unknown)}: use {', '.join(SYSTEMS)}")
        bad = [m for m in self.answer_modes if m not in ANSWER_MODES]
        if bad:
            raise BenchError(f"unknown answer mode(s) {', '.join(bad)}: use {', '.join(ANSWER_MODES)}")
        if not self.sizes:
            raise BenchError("no corpus sizes given: e.g. --sizes 371,10000")
        if self.questions is not None and self.questions < 2:
            raise BenchError("--questions must be at least 2: the first one of a process is timed apart (cold)")


# -- helpers ---------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolation percentile (numpy's default), None for no values."""
    if not values:
        return None
    import numpy as np

    return float(np.percentile(values, q))


def disk_bytes(folder: Path) -> int:
    """Bytes the folder occupies on disk (allocated blocks, so sparse or preallocated files count as stored)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += getattr(st, "st_blocks", 0) * 512 or st.st_size
    return total


def _sha_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _sha_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def rag_code_digest() -> str:
    """Digest of the rag package's source: tells whether a cached store was built by other code."""
    import rag

    root = Path(rag.__file__).resolve().parent
    return _sha_files(sorted(root.rglob("*.py")))[:16]


def our_settings_digest() -> str:
    """What in our settings changes the store (chunking, embedding model, approximate index); not where it lives."""
    from rag.settings import Settings

    s = Settings()
    keep = {
        "index": s.index.model_dump(exclude={"chroma_host", "chroma_port", "collection"}),
        "embedding": s.embedding.model_dump(),
        "ann_min_chunks": s.retrieval.ann_min_chunks,
    }
    return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:16]


def store_signature(system: str, corpus: dict) -> dict:
    """What a cached store must have been built from to be reused: its corpus and, per store, the settings
    and code that shape it."""
    signature = {"corpus_sha256": corpus["sha256"]}
    if system in OUR_STORES:
        signature["settings"] = our_settings_digest()
    if system == "server":
        signature["chromadb"] = machine._version("chromadb")
    if system == "llamaindex":
        signature["llama_index_core"] = machine._version("llama-index-core")
        signature["baseline_code"] = _sha_files([Path(__file__).with_name("baseline.py")])[:16]
    return signature


def default_pubmedqa_file() -> Path:
    """Where `rag eval` looks for PubMedQA (RAG_EVAL__PUBMEDQA_DIR, else ../shared/benchmarks/pubmedqa)."""
    from eval.pubmedqa import data_dir
    from rag.settings import get_settings

    return data_dir(get_settings()) / "ori_pqal.json"


def default_data_dir() -> Path:
    from rag.settings import get_settings

    return get_settings().data_dir / "bench"


def load_questions(limit: int | None) -> list[dict]:
    """The tuning set, plus the held-out set when it exists; `limit` keeps that many, evenly spread."""
    from eval.dataset import DEFAULT_DATASET, load_dataset

    sets = {"gold": DEFAULT_DATASET}
    heldout = DEFAULT_DATASET.with_name("heldout.jsonl")
    if heldout.is_file():
        sets["heldout"] = heldout
    items = [
        {
            "id": f"{name}:{it.id}",
            "set": name,
            "question": it.question,
            "gold": it.gold_ids,
            "answerable": it.answerable,
        }
        for name, path in sets.items()
        for it in load_dataset(path)
    ]
    return spread(items, limit)


def spread(items: list, n: int | None) -> list:
    """n items evenly spaced through the list (all of them when n is None or too big)."""
    if n is None or n >= len(items):
        return list(items)
    if n <= 0:
        return []
    return [items[(i * len(items)) // n] for i in range(n)]


# -- the run ---------------------------------------------------------------------------------------


class Bench:
    def __init__(self, cfg: BenchConfig, echo=print):
        cfg.validate()
        self.cfg = cfg
        self.echo = echo
        self.root = Path(cfg.data_dir or default_data_dir()).expanduser()
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.out = Path(cfg.out or RESULTS_DIR / stamp).expanduser()
        self.logs = self.out / "logs"
        self.notes: list[str] = []
        self.pubmedqa: Path | None = None  # resolved in run()
        self.servers: dict[str, ChromaServer] = {}  # corpus tag -> the running `chroma run` of the server store
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), self.env.get("PYTHONPATH")]))
        self.env.setdefault("HF_HUB_OFFLINE", "1")
        self.env.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.env.setdefault("TOKENIZERS_PARALLELISM", "false")

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.echo(f"note: {text}")

    # -- subprocess jobs --------------------------------------------------------------------------
    def job(self, name: str, task: dict) -> dict:
        """Run one job in a fresh interpreter; its result plus the wall time seen from here."""
        self.logs.mkdir(parents=True, exist_ok=True)
        task_path = self.logs / f"{name}.task.json"
        result_path = self.logs / f"{name}.result.json"
        log_path = self.logs / f"{name}.log"
        task_path.write_text(json.dumps(task))
        result_path.unlink(missing_ok=True)
        t = time.perf_counter()
        with log_path.open("w") as log:
            rc = subprocess.run(
                [sys.executable, "-m", "bench.worker", str(task_path), str(result_path)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            ).returncode
        wall = time.perf_counter() - t
        if rc != 0 or not result_path.is_file():
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
            raise BenchError(f"bench job {name} failed (exit {rc}); log {log_path}:\n{tail}")
        result = json.loads(result_path.read_text())
        result["wall_s"] = wall
        return result

    # -- corpora ----------------------------------------------------------------------------------
    def corpus(self, size: int, bundled: int, bundled_sha: str) -> dict:
        from rag.corpus.loader import BUNDLED_DIR

        if size == bundled:
            return {"tag": str(size), "paths": [str(BUNDLED_DIR)], "papers": size, "bundled": bundled,
                    "synthetic": 0, "pubmedqa": 0, "sha256": bundled_sha, "file": None, "cached": True}
        pmq = self.pubmedqa
        tag = f"{size}-s{self.cfg.seed}" + ("-pubmedqa" if pmq else "")
        path = self.root / "corpora" / f"{tag}.jsonl"
        meta_path = path.with_name(f"{tag}.meta.json")
        want = {"generator": GENERATOR_VERSION, "size": size, "seed": self.cfg.seed, "bundled_sha256": bundled_sha,
                "pubmedqa_sha256": _sha_file(pmq) if pmq else None}
        if not self.cfg.fresh and path.is_file() and meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            if all(meta.get(k) == v for k, v in want.items()) and _sha_file(path) == meta.get("sha256"):
                return {**meta, "tag": tag, "paths": [str(BUNDLED_DIR), str(path)], "file": str(path), "cached": True}
        self.echo(f"[{size}] synthesizing {size - bundled} papers -> {path}")
        r = synthesize(size, path, self.cfg.seed, pmq)
        meta = {**want, "sha256": r.sha256, "papers": r.total_papers, "bundled": r.bundled,
                "synthetic": r.synthetic, "pubmedqa": r.pubmedqa, "generation_s": r.seconds}
        meta_path.write_text(json.dumps(meta, indent=2))
        self.echo(f"[{size}] {r.synthetic} synthetic + {r.pubmedqa} PubMedQA papers in {r.seconds:.2f} s")
        return {**meta, "tag": tag, "paths": [str(BUNDLED_DIR), str(path)], "file": str(path), "cached": False}

    # -- stores -----------------------------------------------------------------------------------
    def store(self, system: str, size: int, corpus: dict) -> dict:
        """Build the store with a cold ingest (or reuse the cached one); returns its build record."""
        folder = self.root / corpus["tag"] / system
        record_path = folder.with_name(f"{system}.build.json")
        signature = store_signature(system, corpus)
        if not self.cfg.fresh and record_path.is_file() and folder.is_dir():
            record = json.loads(record_path.read_text())
            if record.get("signature") == signature:
                if system in OUR_STORES and record.get("rag_code") != rag_code_digest():
                    self.note(
                        f"[{size}] our store was built on {record['built_at']} by other rag code "
                        f"(commit {str(record.get('commit'))[:10]}); its cold-ingest numbers are from then: "
                        "pass --fresh to rebuild and re-measure"
                    )
                self.echo(f"[{size}] reusing the {system} store built {record['built_at']} ({folder})")
                return {**record, "cached": True}
        if system == "server":
            self.stop_server(corpus)
        if folder.exists():
            shutil.rmtree(folder)
        record_path.unlink(missing_ok=True)
        folder.mkdir(parents=True)
        name = f"{corpus['tag']}-{system}-ingest-cold"
        self.echo(f"[{size}] cold ingest into an empty store: {system} (progress: tail -f {self.logs / name}.log)")
        job = "ingest-llamaindex" if system == "llamaindex" else "ingest-ours"
        res = self.job(name, {
            "job": job, "data_dir": str(folder), "paths": corpus["paths"], "progress": True,
            **self.store_task(system, corpus),
        })
        res["papers_per_s"] = res["papers"] / res["wall_s"]
        res["store_bytes"] = disk_bytes(folder)
        record = {
            "signature": signature,
            "built_at": datetime.now().isoformat(timespec="seconds"),
            "commit": machine.git_commit().get("commit"),
            "rag_code": rag_code_digest(),
            "load_average": machine.load(),
            "ingest_cold": res,
        }
        record_path.write_text(json.dumps(record, indent=2))
        self.echo(
            f"[{size}] {system}: {res['papers']} papers, {res['chunks']} chunks in {res['wall_s']:.1f} s "
            f"({res['papers_per_s']:.1f} papers/s), peak RSS {res['peak_rss_mb']:.0f} MB"
        )
        return {**record, "cached": False}

    def store_task(self, store: str, corpus: dict) -> dict:
        """What a job needs to reach this store: the port of its `chroma run` (started on first use)."""
        if store != "server":
            return {}
        srv = self.servers.get(corpus["tag"])
        if srv is None:
            folder = self.root / corpus["tag"] / "server"
            folder.mkdir(parents=True, exist_ok=True)
            self.logs.mkdir(parents=True, exist_ok=True)
            # the same port every time: our local view of a server store is kept per host and port
            port_file = folder / "chroma-port"
            port = int(port_file.read_text()) if port_file.is_file() else free_port()
            port_file.write_text(str(port))
            srv = ChromaServer(folder / "chroma-server", port, log=self.logs / f"{corpus['tag']}-chroma-run.log")
            srv.start()
            self.servers[corpus["tag"]] = srv
            self.echo(f"chroma run on 127.0.0.1:{srv.port} for {folder}")
        return {"chroma_port": srv.port}

    def stop_server(self, corpus: dict) -> None:
        srv = self.servers.pop(corpus["tag"], None)
        if srv is not None:
            srv.stop()

    # -- measurements -----------------------------------------------------------------------------
    def query(self, system: str, size: int, corpus: dict, questions: list[dict]) -> dict:
        store, mode = SYSTEMS[system]
        res = self.job(f"{corpus['tag']}-{system}-query", {
            "job": "query", "system": store, "mode": mode, "k": self.cfg.k, "repeat": self.cfg.repeat,
            "data_dir": str(self.root / corpus["tag"] / store), "questions": questions,
            **self.store_task(store, corpus),
        })
        return summarize_query(res, questions, self.cfg.k)

    def ask(self, mode: str, size: int, corpus: dict, questions: list[dict]) -> dict:
        chosen = spread(questions, self.cfg.questions_for(mode))
        if not chosen:
            return {}
        res = self.job(f"{corpus['tag']}-ask-{mode}", {
            "job": "ask", "answer_mode": mode, "questions": chosen,
            "data_dir": str(self.root / corpus["tag"] / "ours"),
        })
        lat = res["latencies_s"]
        return {
            "questions": len(chosen),
            "first_call_s": res["first_call_s"],
            "first_from_start_s": res["first_from_start_s"],
            "p50_s": percentile(lat, 50),
            "p95_s": percentile(lat, 95),
            "mean_s": sum(lat) / len(lat) if lat else None,
            "n_warm": len(lat),
            "abstained": res["abstained"],
            "answered_by": res["modes"],
            "stage_mean_s": {k: sum(v[1:]) / len(v[1:]) for k, v in res["stage_s"].items() if v[1:]},  # warm
            "peak_rss_mb": res["peak_rss_mb"],
            "wall_s": res["wall_s"],
        }

    def run(self) -> dict:
        cfg = self.cfg
        t0 = time.perf_counter()
        info = machine.describe()
        papers = bundled_papers()
        bundled = len(papers)
        from rag.corpus.loader import BUNDLED_DIR

        bundled_sha = _sha_files(sorted(BUNDLED_DIR.glob("*.txt")))
        small = [s for s in cfg.sizes if s < bundled]
        if small:
            raise BenchError(f"corpus sizes must be >= {bundled} (the bundled papers): got {small}")
        if cfg.pubmedqa and any(s > bundled for s in cfg.sizes):
            path = Path(cfg.pubmedqa_file or default_pubmedqa_file())
            if path.is_file():
                self.pubmedqa = path
            else:
                self.note(
                    f"PubMedQA not found at {path} (set RAG_EVAL__PUBMEDQA_DIR): synthetic corpora are made "
                    "from the bundled papers only"
                )
        questions = load_questions(cfg.questions)
        ids = {p.paper_id for p in papers}
        missing = sorted({g for q in questions for g in q["gold"] if g not in ids})
        if missing:
            self.note(f"{len(missing)} gold paper id(s) are not bundled papers, recall cannot reach 1: {missing[:3]}")
        self.echo(
            f"{len(questions)} questions ({', '.join(sorted({q['set'] for q in questions}))}); "
            f"sizes {cfg.sizes}; systems {cfg.systems}; bench data in {self.root}; results in {self.out}"
        )
        sizes = []
        for size in sorted(dict.fromkeys(cfg.sizes)):
            sizes.append(self.one_size(size, bundled, bundled_sha, questions))
        info["load_average_end"] = machine.load()
        results = {
            "schema": SCHEMA,
            "command": " ".join(sys.argv),
            "machine": info,
            "config": {**asdict(cfg), "pubmedqa_file": str(self.pubmedqa) if self.pubmedqa else None,
                       "data_dir": str(self.root), "out": str(self.out)},
            "questions": {s: sum(q["set"] == s for q in questions) for s in sorted({q["set"] for q in questions})},
            "sizes": sizes,
            "notes": self.notes,
            "total_s": time.perf_counter() - t0,
        }
        return results

    def one_size(self, size: int, bundled: int, bundled_sha: str, questions: list[dict]) -> dict:
        corpus = self.corpus(size, bundled, bundled_sha)
        try:
            return self._one_size(size, corpus, questions)
        finally:
            self.stop_server(corpus)

    def _one_size(self, size: int, corpus: dict, questions: list[dict]) -> dict:
        cfg = self.cfg
        entry: dict[str, Any] = {"size": size, "corpus": corpus, "stores": {}, "systems": {}, "ask": {}}
        stores_needed = {SYSTEMS[s][0] for s in cfg.systems} | ({"ours"} if cfg.timed_answer_modes() else set())
        for store in (s for s in OUR_STORES if s in stores_needed):
            record = self.store(store, size, corpus)
            folder = self.root / corpus["tag"] / store
            self.echo(f"[{size}] unchanged re-run of our ingest ({store}) ...")
            rerun = self.job(f"{corpus['tag']}-{store}-ingest-rerun", {
                "job": "ingest-ours", "data_dir": str(folder), "paths": corpus["paths"],
                **self.store_task(store, corpus),
            })
            if rerun["added"] or rerun["updated"]:
                self.note(
                    f"[{size}] the unchanged re-run ({store}) wrote {rerun['added']} new and {rerun['updated']} "
                    "changed papers: the cached store was stale; its cold-ingest numbers do not describe this code "
                    "(use --fresh)"
                )
            record["ingest_rerun"] = rerun
            record["store_bytes"] = disk_bytes(folder)
            entry["stores"][store] = record
            if record["ingest_cold"]["papers"] != size:
                self.note(f"[{size}] the {store} store holds {record['ingest_cold']['papers']} papers, not {size}")
        if "llamaindex" in stores_needed:
            record = self.store("llamaindex", size, corpus)
            record["store_bytes"] = disk_bytes(self.root / corpus["tag"] / "llamaindex")
            entry["stores"]["llamaindex"] = record
        for system in cfg.systems:
            self.echo(f"[{size}] {len(questions)} questions through {system} ...")
            entry["systems"][system] = q = self.query(system, size, corpus, questions)
            self.echo(
                f"[{size}] {system}: first {q['first_from_start_s']:.1f} s from start, p50 {q['p50_ms']:.0f} ms, "
                f"p95 {q['p95_ms']:.0f} ms, recall@{cfg.k} {q['recall']['all']:.3f}"
            )
            if q["short_lists"]:
                self.note(f"[{size}] {system} returned fewer than {cfg.k} papers for {q['short_lists']} question(s)")
        for mode in cfg.timed_answer_modes():
            self.echo(f"[{size}] ask() with answer mode {mode} ...")
            entry["ask"][mode] = self.ask(mode, size, corpus, questions)
        entry["ratios"] = ratios(entry)
        return entry


def summarize_query(res: dict, questions: list[dict], k: int) -> dict:
    from eval.metrics import hit_at_k, recall_at_k

    ranked = res["ranked"]
    recall: dict[str, list[float]] = {}
    hit: dict[str, list[float]] = {}
    for q in questions:
        if q["answerable"] and q["gold"]:
            for key in (q["set"], "all"):
                recall.setdefault(key, []).append(recall_at_k(ranked[q["id"]], q["gold"], k))
                hit.setdefault(key, []).append(hit_at_k(ranked[q["id"]], q["gold"], k))
    lat = res["latencies_s"]
    return {
        "first_from_start_s": res["first_from_start_s"],
        "first_call_s": res["first_call_s"],
        "p50_ms": percentile(lat, 50) * 1000 if lat else None,
        "p95_ms": percentile(lat, 95) * 1000 if lat else None,
        "mean_ms": sum(lat) / len(lat) * 1000 if lat else None,
        "n_warm": len(lat),
        "recall": {key: sum(v) / len(v) for key, v in recall.items()},
        "hit": {key: sum(v) / len(v) for key, v in hit.items()},
        "scored_questions": {key: len(v) for key, v in recall.items()},
        "short_lists": sum(len(ranked[q["id"]]) < k for q in questions),
        "peak_rss_mb": res["peak_rss_mb"],
        "wall_s": res["wall_s"],
        "latencies_ms": [round(x * 1000, 3) for x in lat],
        "ranked": ranked,
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def ratios(entry: dict) -> dict:
    """Every other system's numbers divided by ours (hybrid): >1 latency = slower than ours."""
    ours = entry["systems"].get("ours")
    if not ours:
        return {}
    out = {}
    for name, q in entry["systems"].items():
        if name == "ours":
            continue
        r = {
            "recall": {s: _ratio(v, ours["recall"].get(s)) for s, v in q["recall"].items()},
            "p50": _ratio(q["p50_ms"], ours["p50_ms"]),
            "p95": _ratio(q["p95_ms"], ours["p95_ms"]),
            "first_query": _ratio(q["first_from_start_s"], ours["first_from_start_s"]),
            "peak_rss": _ratio(q["peak_rss_mb"], ours["peak_rss_mb"]),
        }
        store = SYSTEMS[name][0]
        if store != "ours" and store in entry["stores"] and "ours" in entry["stores"]:
            theirs, mine = entry["stores"][store], entry["stores"]["ours"]
            r["ingest_papers_per_s"] = _ratio(
                theirs["ingest_cold"]["papers_per_s"], mine["ingest_cold"]["papers_per_s"]
            )
            r["store_bytes"] = _ratio(theirs["store_bytes"], mine["store_bytes"])
        out[name] = r
    return out


def run_bench(cfg: BenchConfig, echo=print) -> tuple[dict, Path]:
    """Run, then write results.json, table.txt and bench.png into the output folder."""
    from bench import report

    bench = Bench(cfg, echo)
    results = bench.run()
    bench.out.mkdir(parents=True, exist_ok=True)
    path = bench.out / "results.json"
    path.write_text(json.dumps(results, indent=2))
    report.write(results, bench.out)
    return results, bench.out
