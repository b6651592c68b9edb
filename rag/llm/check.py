"""The answer check: the local model reads the top abstract (or the quoted answer) and says whether it
answers the question.

The evidence score (rag.abstain) measures how close the abstracts are to the question, not whether
they contain what was asked: "which paper introduces a benchmark of real GitHub issues for coding
agents?" retrieves close neighbours that never claim it. The embedded instruction model is asked one
yes/no question about the top abstract or the extractive answer (prompts/check_*.txt) and its
next-token probabilities give P(yes) / (P(yes) + P(no)); below `answer.model_check_threshold` the
answer abstains.

Measured with Qwen2.5-Coder-1.5B (scripts/calibrate_check.py, eval/runs/check): reading the quotes,
P(yes) separates answerable from unanswerable questions with ROC AUC 0.91 on eval/gold.jsonl (0.5B:
0.80); reading the top paper's whole abstract (answer.model_check_reads), 0.96. Thresholds fitted on
the tuning set did not transfer (held-out abstention 0.704 -> 0.667 either way), so
answer.model_check was off by default until, with later answer code, a rule written before its run on
the second held-out set (eval/runs/heldout2/README.md) made it the default: key facts 0.700 -> 0.803,
false abstention 0.121 -> 0.017, abstention 0.409 -> 0.364. One forward pass, no generation: p50
~5.5-6 s on 2 cores reading an abstract, ~3 s reading the quotes.

Hand-written because no library gives a calibrated yes/no probability from a GGUF model: the
prompt goes through the model's own chat template (llama-cpp-python's Jinja2ChatFormatter) and the
logits of the next token are read from llama.cpp directly; generation would only return the word.
"""

from __future__ import annotations

import math
import re
import weakref
from typing import Any

from rag.errors import LLMError
from rag.llm.gguf import resolve_local_model
from rag.llm.llamacpp_backend import _lock, _threads, load_llama
from rag.llm.prompts import render
from rag.models import Passage
from rag.settings import Settings

YES = ("yes", "Yes", " yes", " Yes", "YES")
NO = ("no", "No", " no", " No", "NO")
_WORDS: weakref.WeakKeyDictionary[Any, tuple[list[int], list[int]]] = weakref.WeakKeyDictionary()


def _words(llama: Any) -> tuple[list[int], list[int]]:
    """Token ids that spell yes / no as one token in this model's vocabulary (per loaded model)."""
    if llama in _WORDS:
        return _WORDS[llama]

    def single(words: tuple[str, ...]) -> list[int]:
        ids = [llama.tokenize(w.encode(), add_bos=False, special=False) for w in words]
        return sorted({t[0] for t in ids if len(t) == 1})

    yes, no = single(YES), single(NO)
    if not yes or not no:
        raise LLMError("the local model has no single-token yes/no: set RAG_ANSWER__MODEL_CHECK=false")
    _WORDS[llama] = (yes, no)
    return yes, no


def _prompt(llama: Any, question: str, excerpts: str, kind: str = "check") -> str:
    """The `kind` prompt (check: yes/no; check_reply: a short answer or "Not stated") through the model's
    own chat template, ending where the reply starts."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise LLMError(
            "the local model has no chat template, so it cannot check answers: use a chat model "
            "(RAG_LLM__LOCAL_MODEL) or set RAG_ANSWER__MODEL_CHECK=false"
        )
    model = llama._model  # noqa: SLF001  (token texts, as Llama.__init__ uses them for its chat handlers)
    eos, bos = model.token_eos(), model.token_bos()
    formatter = Jinja2ChatFormatter(
        template=template,
        eos_token=model.token_get_text(eos) if eos != -1 else "",
        bos_token=model.token_get_text(bos) if bos != -1 else "",
    )
    messages = [
        {"role": "system", "content": render(f"{kind}_system")},
        {"role": "user", "content": render(f"{kind}_user", excerpts=excerpts, question=question)},
    ]
    return formatter(messages=messages).prompt


def reading(settings: Settings, quoted: str, passages: list[Passage]) -> str:
    """What the model reads: the quoted answer, or the top paper's whole abstract (answer.model_check_reads)."""
    if settings.answer.model_check_reads == "abstract" and passages:
        return f"**{passages[0].title}** [1] — {passages[0].text}"
    return quoted


def _llama(settings: Settings) -> Any:
    cfg = settings.llm
    return load_llama(resolve_local_model(settings), cfg.n_ctx, _threads(cfg.n_threads))


def _tokens(llama: Any, prompt: str, room: int) -> list[int]:
    """The prompt's tokens; past `room`, the start of the abstract goes (the question and the reply's start stay)."""
    tokens = llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
    if len(tokens) > room:
        tokens = tokens[:8] + tokens[len(tokens) - room + 8 :]
    return tokens


def p_answers(settings: Settings, question: str, excerpts: str) -> float:
    """The local model's probability that `excerpts` state the answer to `question` (0..1)."""
    import llama_cpp
    import numpy as np

    llama = _llama(settings)
    yes, no = _words(llama)
    tokens = _tokens(llama, _prompt(llama, question, excerpts), room=llama.n_ctx() - 1)
    with _lock:
        try:
            llama.reset()
            llama.eval(tokens)
            row = llama_cpp.llama_get_logits_ith(llama.ctx, -1)
        except (RuntimeError, ValueError) as exc:
            raise LLMError(
                f"llama.cpp failed while checking the answer ({exc}): set RAG_ANSWER__MODEL_CHECK=false"
            ) from exc
        logits = np.ctypeslib.as_array(row, shape=(llama.n_vocab(),)).astype(np.float64)
    top = logits.max()
    p_yes = float(np.exp(logits[yes] - top).sum())
    p_no = float(np.exp(logits[no] - top).sum())
    total = p_yes + p_no
    return p_yes / total if total > 0 and math.isfinite(total) else 0.5


# -- the model's own short answer (answer.model_check_reply) ---------------------------------------------

REPLY_TOKENS = 24  # as measured (eval/runs/check/gen): a few words, ~0.2-2 s after the prompt
NOT_STATED = re.compile(r"^[\s*\"'`]*not\s+stated\b", re.I)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_MARKER = re.compile(r"\[\d+\]")
_SPELLED = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": "30", "forty": "40", "fifty": "50", "hundred": "100", "thousand": "1000"}
_SPELLED_RE = re.compile(rf"\b({'|'.join(_SPELLED)})\b", re.I)


def says_not_stated(reply: str) -> bool:
    """Whether the model's own reply is its "Not stated" (quotes or Markdown emphasis around it allowed)."""
    return bool(NOT_STATED.match(reply))


def model_reply(settings: Settings, question: str, excerpts: str) -> tuple[str, bool]:
    """The local model's own few-word answer from `excerpts`, or "Not stated" (prompts/check_reply_*.txt),
    greedy; and whether it was cut at REPLY_TOKENS."""
    llama = _llama(settings)
    tokens = _tokens(llama, _prompt(llama, question, excerpts, "check_reply"), room=llama.n_ctx() - REPLY_TOKENS - 1)
    with _lock:
        try:
            out = llama.create_completion(prompt=tokens, max_tokens=REPLY_TOKENS, temperature=0.0, top_k=1)
        except (RuntimeError, ValueError) as exc:
            raise LLMError(
                f"llama.cpp failed while checking the answer ({exc}): set RAG_ANSWER__MODEL_CHECK_REPLY=false"
            ) from exc
    choice = out["choices"][0]
    return choice["text"].strip(), choice.get("finish_reason") == "length"


def reply_withholds(reply: str, cut: bool, read: str) -> str | None:
    """Why the model's own reply says that what it read lacks the answer, or None.

    "not stated": it says so. "a figure the abstract lacks": it answers with a number that is not in
    what it read (a made-up batch size); citation markers do not count, nor a number cut at the token
    limit ("fewer than 1" for "fewer than 100B"). Hand-written: a check on this model's few-word reply.
    """
    if says_not_stated(reply):
        return "not stated"
    reply = _MARKER.sub("", reply)
    numbers = [m.group().replace(",", "") for m in _NUMBER.finditer(reply)]
    if cut and numbers and _NUMBER.search(reply.rstrip()[-1:] or " "):
        numbers.pop()
    read = _MARKER.sub("", read)
    have = {m.group().replace(",", "") for m in _NUMBER.finditer(read)}
    have |= {_SPELLED[w.lower()] for w in _SPELLED_RE.findall(read)}  # "five GLUE tasks" -> "5"
    return "a figure the abstract lacks" if any(n not in have for n in numbers) else None
