"""scripts/load_ui.py: its request classification, and a small real load against the launched UI.

The load test runs the script's core (`run_load`) in-process against the real app on a free loopback
port over a copy of the 24-paper index; every simulated user is a real gradio_client session doing
what the page does (`take`, then the streamed `respond`). No latency is asserted: speed is reported
by the script, not tested.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys

import pytest

from conftest import ROOT, free_port, make_settings


def load_script():
    name = "load_ui"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "load_ui.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


def chat(reply: str) -> list[dict]:
    """A chat as gradio_client returns it: messages whose content is a list of text parts."""
    return [
        {"role": "user", "content": [{"type": "text", "text": "q"}]},
        {"role": "assistant", "content": [{"type": "text", "text": reply}]},
    ]


def test_classify_tells_answers_abstentions_and_failures_apart():
    from ui.format import SEARCHING, format_error

    classify = load_script().classify
    cited = '<span class="rag-sent">X <a class="rag-cite" href="#cite-0-1">[1]</a>.</span>\n\n' \
            '<span class="rag-note">✓ 1 sentence checked against the cited abstracts · extractive</span>'
    assert classify(chat(cited)) == ("cited", "")
    assert classify(chat('<div class="rag-abstain"><strong>Not answered</strong></div>'))[0] == "abstained"
    outcome, message = classify(chat(format_error(RuntimeError("internal error: boom"))))
    assert outcome == "error" and "internal error: boom" in message
    assert classify(chat(SEARCHING))[0] == "no-answer"
    uncited = '<span class="rag-note">✓ 0 sentences checked against the cited abstracts · extractive</span>'
    assert classify(chat(uncited))[0] == "uncited"
    assert classify(chat(cited)[:1])[0] == "no-answer"


def test_question_plan_mixes_types_unanswerable_and_follow_ups():
    plan = load_script().conversations()
    kinds = [q.kind for conv in plan for q in conv]
    assert {"fact", "unanswerable", "follow-up"} <= set(kinds)
    assert "unanswerable" in kinds[:10], "unanswerable questions come early, not only at the end"
    assert all(conv[0].kind != "follow-up" for conv in plan), "a follow-up never opens a new chat"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # inside gradio's queue
def test_four_sessions_get_answers_without_errors(small_index, tmp_path):
    from ui.app import launch

    data = tmp_path / "data"
    shutil.copytree(small_index.data_dir, data)
    port = free_port()
    demo = launch(make_settings(data), "127.0.0.1", port, block=False, quiet=True)
    try:
        # no warm-up: the sessions' first questions reach the fresh server together, as when users
        # arrive at a UI that just started (two of them used to race opening the Chroma store)
        summary = load_script().run_load(f"http://127.0.0.1:{port}/", sessions=4, duration=15, grace=90, warm=False)
    finally:
        demo.close()

    requests = summary["per_request"]
    assert summary["errors"] == 0, summary["error_messages"]
    assert summary["sessions_still_running_at_hard_stop"] == 0
    assert {r["outcome"] for r in requests} <= {"cited", "abstained"}, "every answer cites or abstains"
    # "a handful" each, kept at 2 so that a machine busy with other work does not fail the test
    assert summary["completed_per_session_min"] >= 2, summary["outcomes"]
    assert {r["session"] for r in requests} == set(range(4))
