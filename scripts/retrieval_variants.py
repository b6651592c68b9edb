"""Retrieval variants scored offline on a published view: which change to fusion would help?

    python scripts/retrieval_variants.py --data /tmp/x --set eval/gold.jsonl --variants base,prf1,w0.4
    python scripts/retrieval_variants.py --data /tmp/x --pubmedqa    # after measure_retrieval.py --pubmedqa

Each variant re-implements one change on top of today's hybrid retrieval (rag.retrieval: dense +
BM25, z-score fusion, best chunk per paper) so it can be compared without re-ingesting:

* ``w<x>``      dense weight x in the z-score fusion (today 0.5);
* ``prf<a>``    dense pseudo-relevance feedback: the question vector plus a times the mean vector of
                the three best fused chunks, then a second dense pass and fusion;
* ``strip``     the dense side embeds the question without "Which papers ..." framing and its
                trailing "and what/how ..." clause;
* ``title<g>``  adds g times the z-scored cosine of the question to each paper's title vector;
* ``bt<n>``     field-weighted BM25: the title n times in each chunk's BM25 text (today once);
* ``pb<g>``     adds g times the z-scored paper-level BM25 (title + whole abstract) to each paper;
* ``pv<g>``     adds g times the z-scored cosine of the question to each paper's vector (the
                normalised mean of its chunk vectors: the whole abstract, no re-embedding);
* ``k<k1>b<b>``  BM25 with other saturation / length normalisation (today bm25s' defaults, k1 1.5,
                b 0.75, Lucene's idf); ``k<k1>b<b><method>`` also another bm25s method (bm25+, bm25l, atire);
* ``sv<g>``     sentence vectors: each chunk's dense score is (1 - g) times its own cosine plus g
                times the best cosine of one of its sentences (each sentence embedded alone);
                ``svt<g>`` embeds each sentence after the paper's title, as chunks are; ``svr<g>`` takes
                the dense candidates by the chunk cosine and rescores them with the mix (as at scale);
                ``svm<g>`` has no chunk vectors (the chunk is the mean of its sentence vectors);
                ``svl<g>`` pools each sentence's tokens from the chunk's own pass (late chunking).
                All rejected: eval/runs/sentence_vectors/README.md;
* ``n<c>``       c candidates per retriever (today 100): also the z-scores' reference set;
* ``bg<g>``     adjacent-stem bigrams: a second BM25 over "stem_stem" pairs of each chunk's BM25 text
                (stop words dropped first), its scores times g added to the unigram BM25 scores;
* ``rm<n>``     BM25 pseudo-relevance feedback (RM3-like): the n stems with the highest tf x idf in
                the three best fused chunks, not in the question, are scored by BM25 and added at
                half weight, then a second fusion.

Prints paper-level recall@5 (and recall@1) overall and per question type. Decide on the tuning set
(eval/gold.jsonl); confirm on the held-out set and PubMedQA before changing a default.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from measure_retrieval import load_items  # noqa: E402

from rag.embeddings import embed_query, embed_texts  # noqa: E402
from rag.index import Index  # noqa: E402
from rag.retrieval import _bm25_scores, _ranking, zscore_fusion  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.store.view import bm25_text  # noqa: E402

FRAME = re.compile(r"^(which|what)\s+(papers?|studies|works|surveys)\s+", re.I)
TAIL = re.compile(r",?\s+(and|&)\s+(what|how|which|where|why)\b[^?]*\?*$", re.I)


def bigrams(text: str) -> list[str]:
    from rag.lexical import content_stems

    stems = content_stems(text)
    return [f"{a}_{b}" for a, b in zip(stems, stems[1:])]


def parse(name: str) -> dict:
    if name == "base":
        return {}
    if name == "strip":
        return {"strip": True}
    m = re.fullmatch(r"k([\d.]+)b([\d.]+)(lucene|robertson|atire|bm25l|bm25\+)?", name)
    if m:
        return {"bm": (float(m.group(1)), float(m.group(2)), m.group(3) or "lucene")}
    for key in ("bg", "prf", "title", "bt", "pb", "rm", "pv", "svt", "svr", "svm", "svl", "sv", "w", "n"):
        if name.startswith(key):
            return {key: float(name[len(key) :])}
    raise SystemExit(f"unknown variant {name!r}: base, strip, w<x>, prf<a>, title<g>")


class Scorer:
    def __init__(self, settings: Settings):
        self.s = settings
        self.view = Index(settings).view()
        self.V = np.asarray(self.view.vectors)
        self.cp = np.asarray(self.view.chunk_paper)
        n = self.view.n_papers
        recs = [self.view.paper_record(i) for i in range(n)]
        self.pids = [r["paper_id"] for r in recs]
        self.titles = None
        self._recs = recs
        self._bm25: dict = {}

    def _expansion(self, question: str, best, n: int) -> list[str]:
        """The n stems of the best chunks with the highest tf x idf, minus the question's own."""
        import math
        from collections import Counter

        from rag.lexical import content_stems

        if not hasattr(self, "_df"):
            self._df = Counter(w for t in self.view.chunk_texts for w in set(content_stems(t)))
        n_docs = len(self.view.chunk_texts)
        asked = set(content_stems(question))
        tf = Counter(w for i in best for w in content_stems(self.view.chunk_texts[int(i)]) if w not in asked)
        weight = {w: c * math.log((n_docs + 1) / (self._df[w] + 0.5)) for w, c in tf.items() if self._df[w] > 1}
        return sorted(weight, key=lambda w: -weight[w])[:n]

    def _index(self, key: tuple):
        """An in-memory bm25s index: ("bt", n) chunks with the title n times, ("bm", k1, b, method) other
        parameters, ("bg",) stem bigrams, ("pb",) one per paper."""
        import bm25s

        from rag.lexical import content_stems

        if key not in self._bm25:
            titles = [r["title"] for r in self._recs]
            params = {}
            if key[0] == "bt":
                texts = [" ".join([titles[p]] * int(key[1]) + [t]) for p, t in zip(self.cp, self.view.chunk_texts)]
            elif key[0] in ("bm", "bg"):
                texts = [bm25_text(titles[p], t) for p, t in zip(self.cp, self.view.chunk_texts)]
                if key[0] == "bm":
                    params = {"k1": key[1], "b": key[2], "method": key[3]}
            else:
                texts = [f"{r['title']} {r['abstract']}" for r in self._recs]
            tokens = bigrams if key[0] == "bg" else content_stems
            bm = bm25s.BM25(**params)
            bm.index([tokens(t) for t in texts], show_progress=False)
            self._bm25[key] = bm
        return self._bm25[key]

    def _scores(self, key: tuple, question: str) -> np.ndarray | None:
        from rag.lexical import content_stems

        bm = self._index(key)
        ids = bm.get_tokens_ids(bigrams(question) if key[0] == "bg" else content_stems(question))
        return np.asarray(bm.get_scores_from_ids(ids), dtype=np.float32) if ids else None

    def _sentences(self, source: str):
        """(sentence vectors, chunk row of each sentence) for source "alone", "titled" or "late";
        embedded once and cached under the data dir ("late" is pooled, see `_late`)."""
        from rag.text import split_sentences

        if source == "late":
            return self._late()
        key = f"_sv_{source}"
        if not hasattr(self, key):
            rows, texts = [], []
            for r, (p, t) in enumerate(zip(self.cp, self.view.chunk_texts)):
                for sent in split_sentences(t):
                    rows.append(r)
                    texts.append(f"{self._recs[p]['title']}\n\n{sent}" if source == "titled" else sent)
            cache = Path(self.s.data_dir) / f"variants_{'svt' if source == 'titled' else 'sv'}_{len(texts)}.npy"
            if cache.exists():
                vecs = np.load(cache)
            else:
                order = np.argsort([len(t) for t in texts])
                vecs = np.empty((len(texts), self.V.shape[1]), dtype=np.float32)
                for i in range(0, len(texts), 64):
                    idx = order[i : i + 64]
                    vecs[idx] = embed_texts(self.s, [texts[j] for j in idx])
                np.save(cache, vecs)
            setattr(self, key, (vecs, np.asarray(rows)))
        return getattr(self, key)

    def _late(self):
        """Sentence vectors pooled from each chunk's own forward pass (late chunking: no extra model run)."""
        if not hasattr(self, "_svl"):
            import torch

            from rag.embeddings import get_embedder
            from rag.text import split_sentences

            enc = get_embedder(self.s).encoder
            model = enc._mean_pool(fp32=False)
            rows, vecs = [], []
            for r, (p, t) in enumerate(zip(self.cp, self.view.chunk_texts)):
                head = f"{self._recs[p]['title']}\n\n"
                full = head + t
                e = model.tokenizer(
                    [full], truncation=True, max_length=model.max_len, return_offsets_mapping=True, return_tensors="pt"
                )
                offsets = e.pop("offset_mapping")[0].numpy()
                with torch.inference_mode():
                    states = model.model(**e).last_hidden_state[0].float().numpy()
                pos = len(head)
                for sent in split_sentences(t):
                    start = full.index(sent, pos) if sent in full[pos:] else pos
                    end = start + len(sent)
                    pos = end
                    sel = (offsets[:, 0] >= start) & (offsets[:, 1] <= end) & (offsets[:, 1] > offsets[:, 0])
                    if not sel.any():
                        continue
                    v = states[sel].mean(axis=0)
                    vecs.append(v / np.linalg.norm(v))
                    rows.append(r)
            self._svl = (np.asarray(vecs, dtype=np.float32), np.asarray(rows))
        return self._svl

    def _fuse(self, qv, b, lex, w, n=100, sv=None):
        d = self.V @ qv
        dense = None  # the dense candidates with their scores (default: the best n of d)
        if sv is not None:
            g, source, how = sv
            vecs, rows = self._sentences(source)
            best = np.full(len(self.cp), -np.inf, dtype=np.float32)
            np.maximum.at(best, rows, vecs @ qv)
            if how == "mean":  # no chunk vectors: the chunk is the normalised mean of its sentences
                m = np.zeros_like(self.V)
                np.add.at(m, rows, vecs)
                m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-9)
                d = m @ qv
            mixed = (1 - g) * d + g * np.where(np.isfinite(best), best, d)
            if how == "rerank":  # candidates by the chunk cosine, scored by the mix
                dense = [(r, float(mixed[r])) for r, _ in _ranking(d, n, -np.inf)]
            d = mixed
        f = zscore_fusion(dense if dense is not None else _ranking(d, n, -np.inf), lex, d, b, w)
        chunk = np.full(len(self.cp), -np.inf)
        rows = np.fromiter(f, dtype=np.int64)
        chunk[rows] = [f[r] for r in rows]
        return chunk, rows

    def top(self, question: str, kw: dict, k: int = 5) -> list[str]:
        qd = (TAIL.sub("", FRAME.sub("", question)) or question) if kw.get("strip") else question
        qv = np.asarray(embed_query(self.s, qd), dtype=np.float32)
        qv = qv / np.linalg.norm(qv)  # a copy: cached question vectors are read-only
        if kw.get("bt"):
            b = self._scores(("bt", kw["bt"]), question)
        elif kw.get("bm"):
            b = self._scores(("bm", *kw["bm"]), question)
        else:
            b = _bm25_scores(self.view, question, None)
        if kw.get("bg") and b is not None:
            extra = self._scores(("bg",), question)
            if extra is not None:
                b = b + kw["bg"] * extra
        n = int(kw.get("n", 100))
        lex = _ranking(b, n, 0.0)
        w = kw.get("w", self.s.retrieval.dense_weight)
        sv = None
        kinds = (
            ("svt", "titled", "max"),
            ("sv", "alone", "max"),
            ("svr", "alone", "rerank"),
            ("svm", "alone", "mean"),
            ("svl", "late", "rerank"),
        )
        for key, source, how in kinds:
            if kw.get(key):
                sv = (kw[key], source, how)
        chunk, rows = self._fuse(qv, b, lex, w, n, sv)
        if kw.get("rm") and b is not None:
            best = rows[np.argsort(-chunk[rows])[:3]]
            extra = self._expansion(question, best, int(kw["rm"]))
            if extra:
                ids = self.view.bm25.get_tokens_ids(extra)
                if ids:
                    b = b + 0.5 * np.asarray(self.view.bm25.get_scores_from_ids(ids), dtype=np.float32)
                    lex = _ranking(b, n, 0.0)
                    chunk, rows = self._fuse(qv, b, lex, w, n)
        if kw.get("prf"):
            best = rows[np.argsort(-chunk[rows])[:3]]
            q2 = qv + kw["prf"] * self.V[best].mean(axis=0)
            chunk, _ = self._fuse(q2 / np.linalg.norm(q2), b, lex, w, n)
        papers = np.full(len(self.pids), -np.inf)
        np.maximum.at(papers, self.cp, chunk)
        if kw.get("title"):
            if self.titles is None:
                self.titles = embed_texts(self.s, [r["title"] for r in self._recs])
            ts = self.titles @ qv
            ref = np.sort(ts)[-100:]
            papers = np.where(np.isfinite(papers), papers, -10) + kw["title"] * (ts - ref.mean()) / max(ref.std(), 1e-9)
        if kw.get("pv"):
            if not hasattr(self, "_pv"):
                pv = np.zeros((len(self.pids), self.V.shape[1]), dtype=np.float32)
                np.add.at(pv, self.cp, self.V)
                self._pv = pv / np.linalg.norm(pv, axis=1, keepdims=True)
            ps = self._pv @ qv
            ref = np.sort(ps)[-100:]
            papers = np.where(np.isfinite(papers), papers, -10) + kw["pv"] * (ps - ref.mean()) / max(ref.std(), 1e-9)
        if kw.get("pb"):
            pb = self._scores(("pb",), question)
            if pb is not None:
                ref = np.sort(pb)[-100:]
                z = (pb - ref.mean()) / max(ref.std(), 1e-9)
                papers = np.where(np.isfinite(papers), papers, -10) + kw["pb"] * z
        return [self.pids[i] for i in np.argsort(-papers)[:k]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--set", type=Path, action="append", default=[])
    ap.add_argument("--pubmedqa", action="store_true", help="PubMedQA's 1,000 questions on its own index")
    ap.add_argument("--variants", default="base,w0.4,w0.6,strip,prf1,title0.3")
    args = ap.parse_args()
    s = Settings(data_dir=args.data)
    sets = [(p.name, load_items(p)) for p in args.set]
    if args.pubmedqa:
        from eval.pubmedqa import data_dir, index_settings, load, title_for
        from rag.corpus.records import paper_id_for

        records, _ = load(data_dir(s))
        s = index_settings(s)
        items = [{"question": r["QUESTION"], "gold": [paper_id_for(title_for(p))]} for p, r in records.items()]
        sets = [("pubmedqa", items)]
    scorer = Scorer(s)
    for set_name, items in sets:
        for name in args.variants.split(","):
            kw = parse(name)
            r5 = r1 = 0.0
            by_type: dict[str, list[float]] = {}
            for it in items:
                got = scorer.top(it["question"], kw)
                gold = set(it["gold"])
                r = len(set(got) & gold) / len(gold)
                r5 += r
                r1 += got[0] in gold
                by_type.setdefault(it.get("type") or "-", []).append(r)
            print(
                json.dumps(
                    {
                        "set": set_name,
                        "variant": name,
                        "recall@5": round(r5 / len(items), 4),
                        "recall@1": round(r1 / len(items), 4),
                        "by_type": {t: round(sum(v) / len(v), 3) for t, v in by_type.items()},
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
