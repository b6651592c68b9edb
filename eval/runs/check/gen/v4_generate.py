"""Experiment (tuning sets only): 'answer in a few words or say Not stated', then GENERATE the reply.

The v3 prompt (../near/v3_system.txt) read only P(first token 'Not') (the former near/v3_readout.py,
whose readout this script keeps as `p_answer`). Here the 1.5B also writes its
short answer greedily (24 tokens), so a reply whose figures or names are absent from the abstract
(a made-up batch size) can be caught offline by tests on the recorded text.

    RAG_DATA_DIR=<bundled index> .venv/bin/python eval/runs/check/gen/v4_generate.py \
        OUT.jsonl eval/tune_near.jsonl eval/gold.jsonl eval/tune_extra.jsonl
"""
import json, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))
import numpy as np, llama_cpp
from eval.dataset import load_dataset
from rag import retrieve
from rag.settings import get_settings
from rag.llm.check import reading
from rag.llm.gguf import resolve_local_model
from rag.llm.llamacpp_backend import load_llama, _threads
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

SYSTEM = (ROOT / "eval/runs/check/near/v3_system.txt").read_text().strip()
out = Path(sys.argv[1]); sets = sys.argv[2:]
s = get_settings(); cfg = s.llm
s = s.model_copy(update={"answer": s.answer.model_copy(update={"model_check_reads": "abstract"})})
llama = load_llama(resolve_local_model(s), cfg.n_ctx, _threads(cfg.n_threads))
m = llama._model
fmt = Jinja2ChatFormatter(template=llama.metadata['tokenizer.chat_template'], eos_token=m.token_get_text(m.token_eos()), bos_token='')
nots = sorted({t[0] for w in ('Not', ' Not', 'not', 'NOT') for t in [llama.tokenize(w.encode(), add_bos=False, special=False)] if len(t) == 1})
done = {json.loads(l)['id'] for l in open(out)} if out.exists() else set()
for d in sets:
    for it in load_dataset(Path(d)):
        if it.id in done: continue
        passages = retrieve(it.question, settings=s)
        text = reading(s, '', passages)
        msgs = [{'role': 'system', 'content': SYSTEM}, {'role': 'user', 'content': f"Abstract:\n{text}\n\nQuestion: {it.question}"}]
        toks = llama.tokenize(fmt(messages=msgs).prompt.encode(), add_bos=False, special=True)
        t = time.perf_counter()
        llama.reset(); llama.eval(toks)
        row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llama.ctx, -1), shape=(llama.n_vocab(),)).astype(np.float64)
        p = np.exp(row - row.max()); p /= p.sum()
        t1 = time.perf_counter()
        gen = llama.create_completion(prompt=toks, max_tokens=24, temperature=0.0, top_k=1)['choices'][0]['text']
        r = {'id': it.id, 'set': Path(d).stem, 'type': it.type, 'answerable': it.answerable,
             'top_title': passages[0].title if passages else '',
             'gold_top': bool(passages) and passages[0].title in (it.gold_titles or it.near_titles),
             'p_answer': round(1 - float(p[nots].sum()), 4), 'reply': gen.strip(),
             'abstract': passages[0].text if passages else '',
             'prompt_s': round(t1 - t, 2), 'gen_s': round(time.perf_counter() - t1, 2)}
        with out.open('a') as f: f.write(json.dumps(r) + '\n')
        print(r['id'], r['answerable'], r['p_answer'], repr(r['reply'][:80]), r['prompt_s'], r['gen_s'], flush=True)
