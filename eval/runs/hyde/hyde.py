"""Experiment (tuning sets first): HyDE with the local 1.5B for paraphrased questions.

The 1.5B writes the abstract sentence that would answer the question, in a paper's own terms; the
retrieval query becomes question + that sentence. Generations are cached in OUT.

    RAG_DATA_DIR=<bundled index> .venv/bin/python eval/runs/hyde/hyde.py OUT.jsonl eval/gold.jsonl ...
"""
import json, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "scripts"))
from measure_retrieval import load_items  # noqa: E402
from rag import retrieve  # noqa: E402
from rag.settings import get_settings  # noqa: E402
from rag.llm.gguf import resolve_local_model  # noqa: E402
from rag.llm.llamacpp_backend import load_llama, _threads  # noqa: E402

SYSTEM = ("You write one sentence of a research-paper abstract. Given a reader's question, write the sentence "
          "a paper's abstract would contain to answer it, using the technical terms and method names a paper "
          "would use. One sentence, no preamble.")
out = Path(sys.argv[1]); sets = [Path(a) for a in sys.argv[2:]]
s = get_settings(); cfg = s.llm
cache = {json.loads(l)["key"]: json.loads(l)["hyp"] for l in open(out)} if out.exists() else {}
llama = None
rows = []
for d in sets:
    for it in load_items(d):
        key = f"{d.stem}:{it['id']}"
        if key not in cache:
            if llama is None:
                llama = load_llama(resolve_local_model(s), cfg.n_ctx, _threads(cfg.n_threads))
            t = time.perf_counter()
            r = llama.create_chat_completion(messages=[{"role": "system", "content": SYSTEM},
                                                       {"role": "user", "content": it["question"]}],
                                             max_tokens=60, temperature=0.0, top_k=1)
            cache[key] = r["choices"][0]["message"]["content"].strip()
            with out.open("a") as f:
                f.write(json.dumps({"key": key, "hyp": cache[key], "s": round(time.perf_counter() - t, 2)}) + "\n")
            print(key, round(time.perf_counter() - t, 1), cache[key][:100], flush=True)
        rows.append((d.stem, it, cache[key]))
if "--score" in sys.argv or True:
    def rec(q, gold):
        got = [p.paper_id for p in retrieve(q, k=5, settings=s)]
        return len(set(got) & set(gold)) / len(set(gold))
    from collections import defaultdict
    agg = defaultdict(lambda: defaultdict(list))
    for stem, it, hyp in rows:
        for name, q in (("question", it["question"]), ("q+hyde", it["question"] + " " + hyp), ("hyde", hyp)):
            r = rec(q, it["gold"])
            agg[(stem, "all")][name].append(r); agg[(stem, it.get("type"))][name].append(r)
    for k, v in sorted(agg.items()):
        print(k, {n: round(sum(x) / len(x), 3) for n, x in v.items()}, len(v["question"]))
