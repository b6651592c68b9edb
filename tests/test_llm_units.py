"""Fast checks of the LLM answer path's pure parts: token budget, pre-gate tidy-up, backend choice."""

from __future__ import annotations

import pytest

from conftest import make_settings
from rag.api import _answer_mode
from rag.errors import ConfigError, QuestionError
from rag.generate import _generate, build_prompt
from rag.llm import ContextOverflowError, LLMBackend, Prompt, backend_kind
from rag.llm.base import CHAT_MESSAGE_OVERHEAD
from rag.llm.budget import ELLIPSIS, SAFETY_MARGIN, pack_sources
from rag.llm.openai_backend import OpenAIBackend
from rag.llm.postprocess import pre_gate
from rag.models import Passage
from rag.text import count_tokens

WORDS = "attention transformer speedup kernel memory bandwidth latency throughput".split()


def passage(i: int, n_words: int = 300) -> Passage:
    text = " ".join(WORDS[(i + j) % len(WORDS)] for j in range(n_words)) + "."
    return Passage(paper_id=f"p{i}", title=f"Paper number {i}", text=text, score=1.0 / (i + 1))


def completion_tokens(p: Prompt) -> int:
    return count_tokens(p.text)


def pack(passages, n_ctx, max_tokens=64, question="How fast is the kernel?"):
    return pack_sources(passages, lambda s: build_prompt(question, s), completion_tokens, n_ctx, max_tokens)


def test_everything_fits_in_a_large_context():
    ps = [passage(i) for i in range(5)]
    packed = pack(ps, 8192)
    assert packed.sources == ps and packed.dropped == 0 and not packed.trimmed
    assert packed.prompt_tokens == completion_tokens(packed.prompt)


@pytest.mark.parametrize("n_ctx", [400, 700, 1000, 1500])
def test_tiny_context_forces_packing_without_overflow(n_ctx):
    ps = [passage(i) for i in range(5)]
    packed = pack(ps, n_ctx, max_tokens=64)
    assert completion_tokens(packed.prompt) <= n_ctx - 64 - SAFETY_MARGIN
    assert 1 <= len(packed.sources) < len(ps)
    # best first: kept sources are a prefix of the ranking, only the last may be cut short
    assert [p.paper_id for p in packed.sources] == [p.paper_id for p in ps[: len(packed.sources)]]
    assert all(p.text == q.text for p, q in zip(packed.sources[:-1], ps, strict=False))
    if packed.trimmed:
        last = packed.sources[-1]
        assert last.text.endswith(ELLIPSIS)
        assert ps[len(packed.sources) - 1].text.startswith(last.text[: -len(ELLIPSIS)])
    assert packed.dropped == len(ps) - len(packed.sources)
    assert f"[{len(packed.sources)}] Paper number" in packed.prompt.text
    assert f"[{len(packed.sources) + 1}] Paper number" not in packed.prompt.text


def test_a_single_long_source_is_trimmed_not_dropped():
    packed = pack([passage(0, n_words=2000)], 700)
    assert len(packed.sources) == 1 and packed.trimmed
    assert completion_tokens(packed.prompt) <= 700 - 64 - SAFETY_MARGIN


def test_too_long_question_is_a_question_error_with_the_fix():
    with pytest.raises(QuestionError, match="RAG_LLM__N_CTX"):
        pack([passage(0)], 512, max_tokens=256, question="why " * 400)


def test_chat_prompt_counting_includes_every_message():
    class Counter(LLMBackend):
        name, context_window = "test", 1000
        api = "chat"

        def count_tokens(self, text):
            return count_tokens(text)

        def stream(self, prompt, max_tokens):
            yield ""

    p = build_prompt("q?", [passage(0)])
    expected = sum(count_tokens(m["content"]) + CHAT_MESSAGE_OVERHEAD for m in p.messages)
    assert Counter().prompt_tokens(p) == expected


class OverflowingBackend(LLMBackend):
    """Behaves like a server whose tokenizer counts 1.5x ours: overflows until the prompt is small."""

    name, context_window, api = "llm:test:overflow", 2048, "completion"

    def __init__(self):
        self.sizes: list[int] = []

    def count_tokens(self, text):
        return count_tokens(text)

    def stream(self, prompt, max_tokens):
        n = int(1.5 * count_tokens(prompt.text))
        self.sizes.append(n)
        if n + max_tokens > self.context_window:
            raise ContextOverflowError("too long")
        yield "ok"


def test_server_side_overflow_is_repacked_smaller():
    backend = OverflowingBackend()
    timings: dict[str, float] = {}
    out = list(_generate("q?", [passage(i) for i in range(6)], backend, 64, timings))
    assert out[0] == "ok" and len(backend.sizes) == 3
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
