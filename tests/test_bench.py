"""The scale benchmark (bench/): deterministic synthetic corpora, result arithmetic, one tiny real run.

The synthesizer tests need no model. The end-to-end test is real (MiniLM, Chroma, llama-index, fresh
subprocesses), at 400 papers and a few questions; it checks shapes and sanity, not speed: speed
targets live in the bench's own reports, never in timed tests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.run import BenchConfig, default_pubmedqa_file, ratios, run_bench, spread, store_signature
from bench.synth import bundled_papers, perturb_number, split_sentences, synthesize
from rag.corpus.loader import BUNDLED_DIR, load_corpus
from rag.corpus.records import normalize_title

SIZE = 600


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, object]:
    path = tmp_path_factory.mktemp("synth") / "c.jsonl"
    return path, synthesize(SIZE, path, seed=13)


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(corpus, tmp_path):
    path, report = corpus
    again = synthesize(SIZE, tmp_path / "again.jsonl", seed=13)
    assert (tmp_path / "again.jsonl").read_bytes() == path.read_bytes()
    assert again.sha256 == report.sha256
    synthesize(SIZE, tmp_path / "other.jsonl", seed=14)
    assert (tmp_path / "other.jsonl").read_bytes() != path.read_bytes()


def test_every_bundled_paper_is_in_the_corpus_unchanged(corpus):
    path, _ = corpus
    alone = {p.paper_id: p for p in bundled_papers()}
    mixed = {p.paper_id: p for p in load_corpus([BUNDLED_DIR, path])[0]}
    assert len(mixed) == SIZE
    for pid, paper in alone.items():
        assert mixed[pid] == paper  # title, abstract, date, sources: all equal
    from eval.dataset import DEFAULT_DATASET, load_dataset

    gold = {g for item in load_dataset(DEFAULT_DATASET) for g in item.gold_ids}
    assert gold <= set(alone)


def test_the_requested_count_with_no_duplicate_titles(corpus):
    path, report = corpus
    records = _records(path)
    n_bundled = len(bundled_papers())
    assert len(records) == SIZE - n_bundled == report.synthetic + report.pubmedqa
    keys = [normalize_title(r["title"]) for r in records]
    assert len(set(keys)) == len(keys)
    assert not set(keys) & {normalize_title(p.title) for p in bundled_papers()}
    assert all(r["abstract"].strip() and r["title"].strip() for r in records)


def test_synthetic_papers_share_the_vocabulary_but_do_not_copy_sentences(corpus):
    path, _ = corpus
    papers = bundled_papers()
    vocab = {w for p in papers for w in re.findall(r"[a-z]+", f"{p.title} {p.abstract}".lower())}
    bundled_sentences = {s for p in papers for s in split_sentences(p.abstract)}
    records = _records(path)
    words = [w for r in records for w in re.findall(r"[a-z]+", f"{r['title']} {r['abstract']}".lower())]
    assert sum(w in vocab for w in words) / len(words) > 0.95  # same vocabulary: not random noise
    sentences = [s for r in records for s in split_sentences(r["abstract"])]
    assert sum(s in bundled_sentences for s in sentences) / len(sentences) < 0.05  # perturbed, not copied
    assert not {r["abstract"] for r in records} & {p.abstract for p in papers}


def test_sizes_below_the_bundled_corpus_are_refused(tmp_path):
    with pytest.raises(ValueError, match="bundled"):
        synthesize(100, tmp_path / "x.jsonl")


def test_pubmedqa_abstracts_are_mixed_in_when_present(tmp_path):
    source = default_pubmedqa_file()
    shared = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "pubmedqa" / "ori_pqal.json"
    source = source if source.is_file() else shared
    if not source.is_file():
        pytest.skip(f"PubMedQA not found at {source} (set RAG_EVAL__PUBMEDQA_DIR)")
    n_bundled = len(bundled_papers())
    report = synthesize(n_bundled + 1000, tmp_path / "p.jsonl", pubmedqa=source)
    assert report.pubmedqa == 100 and report.synthetic == 900
    ids = [r["id"] for r in _records(tmp_path / "p.jsonl")]
    assert sum(i.startswith("pubmed-") for i in ids) == 100
    assert len(load_corpus([BUNDLED_DIR, tmp_path / "p.jsonl"])[0]) == n_bundled + 1000


@pytest.mark.parametrize("u", [0.0, 0.3, 0.5, 0.999])
def test_perturbed_numbers_keep_their_form(u):
    new = perturb_number(2.59, 2, False, False, u)
    assert re.fullmatch(r"\d+\.\d\d", new) and new != "2.59"
    pct = perturb_number(99.0, 1, True, False, u)
    assert pct.endswith("%") and float(pct[:-1]) <= 99.9
    assert re.fullmatch(r"\d{1,3}(,\d{3})+", perturb_number(400000, 0, False, True, u))


def test_spread_and_ratios():
    assert spread(list(range(10)), 3) == [0, 3, 6]
    assert spread([1, 2], None) == [1, 2]
    entry = {
        "systems": {
            "ours": {"recall": {"all": 0.8}, "p50_ms": 100.0, "p95_ms": 200.0, "first_from_start_s": 5.0,
                     "peak_rss_mb": 500.0},
            "llamaindex": {"recall": {"all": 0.4}, "p50_ms": 300.0, "p95_ms": 500.0, "first_from_start_s": 10.0,
                           "peak_rss_mb": 250.0},
        },
        "stores": {
            "ours": {"ingest_cold": {"papers_per_s": 10.0}, "store_bytes": 100},
            "llamaindex": {"ingest_cold": {"papers_per_s": 5.0}, "store_bytes": 50},
        },
    }
    r = ratios(entry)["llamaindex"]
    assert r["recall"]["all"] == pytest.approx(0.5)
    assert (r["p50"], r["p95"], r["first_query"], r["peak_rss"]) == pytest.approx((3.0, 2.5, 2.0, 0.5))
    assert (r["ingest_papers_per_s"], r["store_bytes"]) == pytest.approx((0.5, 0.5))


def test_store_signatures_name_only_what_shapes_each_store():
    corpus = {"sha256": "abc"}
    assert set(store_signature("ours", corpus)) == {"corpus_sha256", "settings"}
    assert set(store_signature("server", corpus)) == {"corpus_sha256", "settings", "chromadb"}
    assert set(store_signature("llamaindex", corpus)) == {"corpus_sha256", "llama_index_core", "baseline_code"}


def test_answer_modes_with_no_questions_are_not_timed():
    # --systems llamaindex --ask-questions 0 --check-questions 0 must not build (an hour at 100k) a store of
    # ours it never asks
    assert BenchConfig(systems=["llamaindex"], ask_questions=0, check_questions=0).timed_answer_modes() == []
    assert BenchConfig(ask_questions=20).timed_answer_modes() == ["extractive", "extractive-check"]
    assert BenchConfig(ask_questions=20, check_questions=0).timed_answer_modes() == ["extractive"]
    cfg = BenchConfig(answer_modes=["extractive", "llm"], ask_questions=5, llm_questions=0)
    assert cfg.timed_answer_modes() == ["extractive"]


def test_extractive_modes_set_the_model_check_whatever_the_environment(tmp_path):
    from bench.worker import answer_settings, our_settings

    s = our_settings(str(tmp_path))
    quotes, mode = answer_settings(s.model_copy(update={"answer": s.answer.model_copy(update={"model_check": True})}),
                                   "extractive")
    assert (mode, quotes.answer.model_check) == ("extractive", False)
    checked, mode = answer_settings(s, "extractive-check")
    assert (mode, checked.answer.model_check) == ("extractive", True)
    assert answer_settings(s, "llm") == (s, "llm")


@pytest.mark.slow
def test_bench_runs_end_to_end_and_reuses_its_stores(tmp_path):
    data, log = tmp_path / "bench-data", []
    cfg = BenchConfig(
        sizes=[400],
        systems=["ours", "bm25", "server", "llamaindex"],
        questions=6,
        ask_questions=2,
        answer_modes=["extractive"],  # quotes alone: the check's real model is tested in tests/test_check.py
        data_dir=data,
        out=tmp_path / "out",
        pubmedqa=False,
    )
    results, out = run_bench(cfg, echo=log.append)

    for name in ("results.json", "table.txt", "bench.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "bench.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "results.json").read_text())["sizes"][0]["size"] == 400
    assert "LlamaIndex" in (out / "table.txt").read_text()
    machine = results["machine"]
    assert machine["cores"] and machine["python"] and machine["packages"]["llama-index-core"]

    entry = results["sizes"][0]
    assert entry["corpus"]["synthetic"] == 400 - len(bundled_papers())
    for store in ("ours", "server", "llamaindex"):
        cold = entry["stores"][store]["ingest_cold"]
        assert cold["papers"] == 400 and cold["papers_per_s"] > 0 and cold["peak_rss_mb"] > 0
        assert entry["stores"][store]["store_bytes"] > 0
    for store in ("ours", "server"):
        rerun = entry["stores"][store]["ingest_rerun"]
        assert (rerun["added"], rerun["updated"], rerun["unchanged"]) == (0, 0, 400)
    # server mode: a real `chroma run` held the chunks (its folder is in the store), the same papers come back
    assert any((data / "400-s13" / "server" / "chroma-server").iterdir())
    assert entry["systems"]["server"]["ranked"] == entry["systems"]["ours"]["ranked"]
    assert "Chroma server" in (out / "table.txt").read_text()
    for name in ("ours", "bm25", "server", "llamaindex"):
        q = entry["systems"][name]
        assert q["first_from_start_s"] > 0 and 0 < q["p50_ms"] <= q["p95_ms"]
        assert q["n_warm"] == 5 and 0.0 <= q["recall"]["all"] <= 1.0 and q["peak_rss_mb"] > 0
    for name in ("bm25", "server", "llamaindex"):
        r = entry["ratios"][name]
        assert r["p50"] > 0 and r["recall"]["all"] is not None
    assert entry["ratios"]["llamaindex"]["ingest_papers_per_s"] > 0
    ask = entry["ask"]["extractive"]
    assert ask["questions"] == 2 and ask["p50_s"] > 0 and ask["first_from_start_s"] > 0

    # A second run reuses both the corpus and the store: nothing is embedded again.
    # The server store too, on a `chroma run` started again (the same port: the local view is kept per port).
    again = BenchConfig(sizes=[400], systems=["bm25", "server"], questions=2, answer_modes=[], data_dir=data,
                        out=tmp_path / "out2", pubmedqa=False)
    results2, _ = run_bench(again, echo=log.append)
    for store in ("ours", "server"):
        store2 = results2["sizes"][0]["stores"][store]
        assert store2["cached"] and results2["sizes"][0]["corpus"]["cached"]
        assert store2["ingest_cold"] == entry["stores"][store]["ingest_cold"]
        assert store2["ingest_rerun"]["added"] == 0 and store2["ingest_rerun"]["unchanged"] == 400
    ranked1, ranked2 = entry["systems"]["server"]["ranked"], results2["sizes"][0]["systems"]["server"]["ranked"]
    common = set(ranked1) & set(ranked2)
    assert common and all(ranked2[q] == ranked1[q] for q in common)  # the same answers after the restart
