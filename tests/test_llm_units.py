"""Fast checks of the LLM answer path's pure parts: evidence selection, prompt, pre-gate tidy-up, backend choice."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_settings
from rag.answerers import answer_mode as _answer_mode
from rag.errors import ConfigError
from rag.extractive import ScoredSentence
from rag.llm import ContextOverflowError, LLMBackend, backend_kind
from rag.llm.evidence import build_prompt, citation_grammar, fixed_messages, select_evidence
from rag.llm.openai_backend import OpenAIBackend
from rag.llm.postprocess import pre_gate
from rag.llm.prompts import NO_ANSWER
from rag.models import Passage
from rag.text import count_tokens

WORDS = "attention transformer speedup kernel memory bandwidth latency throughput".split()


def passage(i: int, n_words: int = 300) -> Passage:
    text = " ".join(WORDS[(i + j) % len(WORDS)] for j in range(n_words)) + "."
    return Passage(paper_id=f"p{i}", title=f"Paper number {i}", text=text, score=1.0 / (i + 1))


def scored(source: int, position: int, text: str, score: float) -> ScoredSentence:
    return ScoredSentence(source, position, text, score, 0.0, score, np.zeros(3))


def test_evidence_is_best_sentences_round_robin_within_the_budget():
    ps = [passage(i, 5) for i in range(3)]
    sents = [
        scored(0, 0, "Zero first sentence here.", 0.9),
        scored(0, 1, "Zero second sentence here.", 0.5),
        scored(0, 2, "Zero third sentence here.", 0.8),
        scored(1, 0, "One first sentence here.", 0.85),
        scored(1, 1, "One second sentence here.", 0.2),
        scored(2, 0, "Two weak sentence here.", 0.3),  # more than PAPER_MARGIN below the best
    ]
    big = select_evidence(sents, ps, count_tokens, budget=10_000, max_per_paper=2)
    assert [s.passage.paper_id for s in big] == ["p0", "p1"]  # weak paper left out
    # paper 0 keeps its two best sentences, shown in abstract order
    assert big[0].sentences == ("Zero first sentence here.", "Zero third sentence here.")
    assert big[1].sentences == ("One first sentence here.", "One second sentence here.")
    # a budget for about two sentences: each paper's best one comes before any second one
    small = select_evidence(sents, ps, count_tokens, budget=30, max_per_paper=2)
    assert [s.sentences for s in small] == [("Zero first sentence here.",), ("One first sentence here.",)]
    assert select_evidence([], ps, count_tokens, budget=100) == []


def test_prompt_starts_with_a_fixed_prefix_and_numbers_the_evidence():
    ps = [passage(0, 5), passage(1, 5)]
    sents = [scored(0, 0, "Alpha is fast.", 0.9), scored(1, 0, "Beta is slow.", 0.8)]
    sources = select_evidence(sents, ps, count_tokens, budget=1000)
    a, b = build_prompt("How fast is alpha?", sources), build_prompt("Other question?", sources[::-1])
    fixed = len(fixed_messages())
    assert a.messages[:fixed] == b.messages[:fixed]  # identical prefix: llama.cpp reuses its KV cache
    assert [m["role"] for m in a.messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "[1] Paper number 0\nAlpha is fast." in a.messages[-1]["content"]
    assert "[2] Paper number 1\nBeta is slow." in a.messages[-1]["content"]
    assert a.messages[-1]["content"].endswith("Question: How fast is alpha?")
    assert NO_ANSWER in a.messages[0]["content"] and a.grammar is None
    assert "[1] Paper number 0" in a.text and a.text.endswith("Answer:")


def test_citation_grammar_lists_only_the_sources_shown():
    g = citation_grammar(3)
    assert 'num ::= "1" | "2" | "3"' in g and NO_ANSWER in g
    assert build_prompt("q?", [], grammar=True).grammar is not None


class OverflowingBackend(LLMBackend):
    """A server whose tokenizer counts 1.5x ours: it overflows until the prompt is small.

    A stand-in (not a mock of a real part's protocol): what is tested is the answerer's retry
    policy, and a real server cannot be made to miscount tokens on demand.
    """

    name, context_window, api = "llm:test:overflow", 700, "completion"

    def __init__(self):
        self.sizes: list[int] = []

    def count_tokens(self, text):
        return count_tokens(text)

    def stream(self, prompt, max_tokens):
        n = int(2 * count_tokens(prompt.text))
        self.sizes.append(n)
        if n + max_tokens > self.context_window:
            raise ContextOverflowError("too long")
        yield "ok"


def test_server_side_overflow_is_retried_with_less_evidence(tmp_path):
    from rag.answerers.llm import LLMAnswerer
    from rag.extractive import Draft

    s = make_settings(tmp_path, answer={"evidence_tokens": 400}, llm={"max_tokens": 32})
    ps = [passage(i, 60) for i in range(5)]
    sents = [scored(i, j, f"Sentence {j} of paper {i} says {' '.join(WORDS)}.", 1 - 0.01 * j) for i in range(5)
             for j in range(3)]
    backend = OverflowingBackend()
    timings: dict[str, float] = {}
    out = list(LLMAnswerer(s)._generate("q?", Draft("", 1.0, False, "", sents), ps, backend, timings, 0.0))
    assert out[-1] == "ok" and len(backend.sizes) >= 2
    assert backend.sizes == sorted(backend.sizes, reverse=True)
    assert "first_token" in timings


def test_pre_gate_moves_leading_markers_and_drops_non_answers():
    sources = [passage(0), passage(1)]
    text = (
        "[1] Kernels are fast. [2] Memory is the limit.\n[1] [2] [3]\n2 [1].\nThe answer is: [1].\n"
        "[2] Paper number 1\n"
        "The sources do not answer this question."
    )
    kept, removed, declined = pre_gate(text, sources)
    assert kept == "Kernels are fast [1]. Memory is the limit [2]."
    assert declined
    reasons = {r.reasons[0] for r in removed}
    assert reasons == {
        "says nothing: only citation markers, numbers or filler words",
        "only repeats a source title",
        "the model said the sources do not answer the question",
    }


def test_pre_gate_keeps_paragraphs():
    kept, removed, declined = pre_gate("A is fast [1].\n\nB is slow [2].", [passage(0), passage(1)])
    assert kept == "A is fast [1].\n\nB is slow [2]." and not removed and not declined


def test_backend_and_answer_mode_selection(tmp_path):
    s = make_settings(tmp_path)
    assert backend_kind(s) == "llamacpp" and _answer_mode(s, None) == "extractive"
    assert _answer_mode(s, "auto") == "extractive" and _answer_mode(s, "llm") == "llm"
    remote = make_settings(tmp_path, openai_base_url="http://127.0.0.1:9/v1")
    assert backend_kind(remote) == "openai" and _answer_mode(remote, "auto") == "llm"
    keyed = make_settings(tmp_path, openai_api_key="sk-test")
    assert backend_kind(keyed) == "openai"
    forced = make_settings(tmp_path, openai_api_key="sk-test", llm={"backend": "llamacpp"})
    assert backend_kind(forced) == "llamacpp"


def test_openai_backend_without_key_or_url_says_what_to_set(tmp_path):
    s = make_settings(tmp_path, llm={"backend": "openai"})
    with pytest.raises(ConfigError, match="OPENAI_API_KEY.*OPENAI_BASE_URL"):
        OpenAIBackend(s)


def _run_filter(stops, deltas):
    from rag.llm.stops import StopFilter

    f = StopFilter(stops)
    out = [f.feed(d) for d in deltas]
    return "".join(out) + f.flush(), f.done


def test_stop_filter_skips_leading_blank_lines_then_stops():
    stops = ["\n\n", "\nQuestion:", "\n["]
    assert _run_filter(stops, ["\n", "\n", " It is ", "fast [1].", "\n", "\n", "More."]) == (
        "It is fast [1].",
        True,
    )
    assert _run_filter(stops, ["A [1].", "\nQues", "tion: next"]) == ("A [1].", True)
    # held-back text that turns out not to be a stop is released
    assert _run_filter(stops, ["A [1].\n", "B [2]."]) == ("A [1].\nB [2].", False)
    assert _run_filter(stops, ["A [1].\n"]) == ("A [1].\n", False)
    assert _run_filter([], ["\n\nA"]) == ("A", False)


def test_unknown_answer_mode_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="extractive, llm or auto"):
        _answer_mode(make_settings(tmp_path), "generative")
