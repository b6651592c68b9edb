"""Experiment: P(answer) = 1 - P(first reply token spells 'Not') for 'answer or say Not stated'.

    RAG_DATA_DIR=<bundled index> .venv/bin/python eval/runs/check/near/v3_readout.py \
        "$(cat eval/runs/check/near/v3_system.txt)" OUT.jsonl eval/tune_near.jsonl eval/gold.jsonl
"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[4]))
import numpy as np, llama_cpp
from eval.dataset import load_dataset
from rag import retrieve
from rag.settings import get_settings
from rag.llm.check import reading
from rag.llm.gguf import resolve_local_model
from rag.llm.llamacpp_backend import load_llama, _threads
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

SYSTEM = sys.argv[1]
out = Path(sys.argv[2]); sets = sys.argv[3:]
s = get_settings(); cfg = s.llm
s = s.model_copy(update={"answer": s.answer.model_copy(update={"model_check_reads": "abstract"})})  # as recorded
llama = load_llama(resolve_local_model(s), cfg.n_ctx, _threads(cfg.n_threads))
m = llama._model
fmt = Jinja2ChatFormatter(template=llama.metadata['tokenizer.chat_template'], eos_token=m.token_get_text(m.token_eos()), bos_token='')
nots = sorted({t[0] for w in ('Not', ' Not', 'not', 'NOT') for t in [llama.tokenize(w.encode(), add_bos=False, special=False)] if len(t) == 1})
print('not ids', nots)
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
        top = llama.detokenize([int(np.argmax(row))]).decode(errors='replace')
        r = {'id': it.id, 'answerable': it.answerable, 'quoted': True, 'p_yes': round(1 - float(p[nots].sum()), 4), 'top': top, 'seconds': round(time.perf_counter() - t, 2)}
        with out.open('a') as f: f.write(json.dumps(r) + '\n')
        print(r, flush=True)
