"""Evaluation plumbing without models: dataset validation, configs, the judge, the report."""

from __future__ import annotations

import json

import pytest

from conftest import make_settings
from eval.configs import CONFIGS, parse_configs
from eval.dataset import DEFAULT_DATASET, DatasetError, load_dataset
from eval.judge import judge_answer
from eval.llm import answer_endpoint, judge_endpoint, parse_json
from eval.pubmedqa import parse_label
from rag.corpus.records import paper_id_for
from rag.errors import ConfigError, LLMError
from rag.models import Passage

GOOD = {
    "id": "q1",
    "question": "What does LZN improve?",
    "type": "fact",
    "gold_titles": ["Latent Zoning Network"],
    "answer": "FID",
    "must_include": ["2.59"],
    "answerable": True,
}


def _write(tmp_path, rows) -> str:
    path = tmp_path / "ds.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_dataset_loads_and_maps_titles_to_paper_ids(tmp_path):
    items = load_dataset(_write(tmp_path, [GOOD, {"question": "Who won?", "answerable": False}]))
    assert items[0].gold_ids == [paper_id_for("Latent Zoning Network")]
    assert items[1].id == "line2" and items[1].gold_ids == []


@pytest.mark.parametrize(
    "row, message",
    [
        ("{not json", "ds.jsonl:2: invalid JSON"),
        (
            {"question": "x", "answerable": True},
            "ds.jsonl:2: item: Value error, an answerable item needs gold",
        ),
        (
            {"question": "x", "answerable": False, "must_include": ["a"]},
            "ds.jsonl:2: item: Value error, an unans",
        ),
        (
            {"question": "", "gold_paper_ids": ["p1"]},
            "ds.jsonl:2: question: Value error, the question is empty",
        ),
        ({"question": "x", "gold_paper_ids": ["p1"], "colour": "red"}, "ds.jsonl:2: colour: Extra inputs"),
        ({**GOOD, "answerable": "perhaps"}, "ds.jsonl:2: answerable: Input should be a valid boolean"),
        (GOOD, "ds.jsonl:2: id 'q1' already used on line 1"),
        ("[1, 2]", "ds.jsonl:2: expected a JSON object"),
    ],
)
def test_dataset_errors_name_file_and_line(tmp_path, row, message):
    with pytest.raises(DatasetError) as exc:
        load_dataset(_write(tmp_path, [GOOD, row]))
    assert message in str(exc.value)


def test_dataset_skips_comment_lines_and_keeps_near_titles(tmp_path):
    near = {"question": "What batch size?", "answerable": False, "near_titles": ["Latent Zoning Network"]}
    items = load_dataset(_write(tmp_path, ["# frozen header", "  # indented comment", "", GOOD, near]))
    assert [it.id for it in items] == ["q1", "line5"]
    assert items[1].near_ids == [paper_id_for("Latent Zoning Network")] and items[0].near_ids == []


def test_dataset_rejects_near_titles_on_answerable_items(tmp_path):
    with pytest.raises(DatasetError, match="ds.jsonl:1: item: Value error, near_titles is only for unanswerable"):
        load_dataset(_write(tmp_path, [{**GOOD, "near_titles": ["Latent Zoning Network"]}]))


def test_missing_dataset_says_what_to_do(tmp_path):
    with pytest.raises(DatasetError, match="--dataset"):
        load_dataset(tmp_path / "nope.jsonl")


def test_gold_set_validates():
    if not DEFAULT_DATASET.is_file():
        pytest.skip("eval/gold.jsonl not written yet")
    items = load_dataset(DEFAULT_DATASET)
    assert len(items) >= 20 and any(not it.answerable for it in items)


def test_configs_parse_and_override_settings(tmp_path):
    assert [c.name for c in parse_configs(None)] == ["hybrid-k5", "dense-k5", "bm25-k5"]
    with pytest.raises(ConfigError, match="unknown config"):
        parse_configs("hybrid-k5,nope")
    s = CONFIGS["bm25-k5"].settings(make_settings(tmp_path))
    assert (s.retrieval.mode, s.retrieval.k, s.answer.mode) == ("bm25", 5, "extractive")
    assert CONFIGS["llm"].settings(make_settings(tmp_path)).answer.mode == "llm"


def test_judge_and_answer_endpoints_are_separate(tmp_path):
    s = make_settings(tmp_path)
    assert judge_endpoint(s) is None and answer_endpoint(s) is None
    s = make_settings(
        tmp_path,
        eval={"judge_base_url": "http://judge:1/v1", "judge_model": "big"},
        openai_base_url="http://answer:2/v1",
    )
    assert judge_endpoint(s).model == "big" and judge_endpoint(s).base_url == "http://judge:1/v1"
    assert answer_endpoint(s).base_url == "http://answer:2/v1"


def test_parse_json_tolerates_fences_and_chatter():
    assert parse_json('Sure!\n```json\n{"statements": ["a"]}\n```') == {"statements": ["a"]}
    assert parse_json('verdicts: [{"verdict": 1}] done') == [{"verdict": 1}]
    with pytest.raises(ValueError):
        parse_json("no json here")


def test_pubmedqa_label_parsing():
    assert parse_label("Yes.") == "yes"
    assert parse_label("The answer is: maybe, because...") == "maybe"
    assert parse_label("I cannot tell") is None


class FakeJudge:
    """Replies like a judge model: two statements, the second unsupported."""

    def __init__(self, fail: bool = False):
        self.calls: list[str] = []
        self.fail = fail

    def complete(self, messages, max_tokens=512, temperature=0.0):
        prompt = messages[-1]["content"]
        self.calls.append(prompt)
        if self.fail:
            raise LLMError("judge unreachable")
        if "break the answer down" in prompt:
            return '{"statements": ["LZN improves FID to 2.59.", "LZN was trained on TPUs."]}'
        return json.dumps(
            {
                "verdicts": [
                    {"statement": "a", "reason": "stated", "verdict": 1},
                    {"statement": "b", "reason": "not stated", "verdict": 0},
                ]
            }
        )


def test_judge_faithfulness_ragas_style():
    p = Passage(paper_id="p", title="LZN", text="LZN improves FID to 2.59.", score=1.0)
    judge = FakeJudge()
    r = judge_answer(judge, "What does LZN do?", "LZN improves FID to 2.59 [1]. It used TPUs [1].", [p])
    assert r.statements == ["LZN improves FID to 2.59.", "LZN was trained on TPUs."]
    assert r.verdicts == [1, 0] and r.faithfulness == 0.5
    assert "[1]" not in judge.calls[0] and "LZN improves FID to 2.59." in judge.calls[1]


def test_judge_errors_are_recorded_not_raised():
    r = judge_answer(FakeJudge(fail=True), "q", "a [1].", [])
    assert r.faithfulness is None and "judge unreachable" in r.error


def test_llm_config_is_skipped_with_a_note_when_no_llm(tmp_path, monkeypatch):
    from eval import runner

    monkeypatch.setattr(runner, "llm_status", lambda s: (False, "no LLM configured"))
    items = load_dataset(_write(tmp_path, [GOOD]))
    runs = runner.run(items, parse_configs("llm"), make_settings(tmp_path / "d"), progress=False)
    assert runs[0].skipped == "no LLM configured" and runs[0].records == []


def test_report_renders_and_plots(tmp_path):
    from eval import report
    from eval.runner import ConfigRun
    from eval.summary import summarize, summarize_by_type

    rec = {
        "config": "hybrid-k5",
        "id": "q1",
        "type": "fact",
        "answerable": True,
        "abstained": False,
        "latency_s": 0.5,
        "metrics": {"recall@k": 1.0, "mrr": 1.0, "faithful_cited": 1.0, "sentences": 1, "verify_failures": 0},
    }
    runs = [
        ConfigRun(CONFIGS["hybrid-k5"], [rec], 1.0),
        ConfigRun(CONFIGS["llm"], skipped="no LLM configured"),
    ]
    summaries = {"hybrid-k5": summarize([rec])}
    by_type = {"hybrid-k5": summarize_by_type([rec])}
    plots = [
        report.plot_metrics(tmp_path, summaries),
        report.plot_latency(tmp_path, runs),
        report.plot_by_type(tmp_path, by_type),
    ]
    assert all(p.is_file() and p.stat().st_size > 1000 for p in plots)
    meta = {"run_id": "t", "dataset": "ds.jsonl", "items": 1, "workers": 2, "seconds": 1.0}
    md = report.render(meta, runs, summaries, by_type, None, {"skipped": "PubMedQA not found"}, plots)
    assert "| hybrid-k5 | 5 | – | 1.000 |" in md  # no hit@k in the record: a dash
    assert "**llm skipped**: no LLM configured" in md
    assert "Skipped: PubMedQA not found" in md and "![metrics](metrics.png)" in md
    report.write_results(tmp_path, runs)
    assert json.loads((tmp_path / "results.jsonl").read_text())["id"] == "q1"


def test_rag_eval_is_registered():
    from typer.testing import CliRunner

    from rag.cli import app

    result = CliRunner().invoke(app, ["eval", "--help"])
    assert result.exit_code == 0
    assert "--configs" in result.output and "--pubmedqa" in result.output


def test_rag_eval_bad_dataset_is_one_line_exit_2(tmp_path):
    from typer.testing import CliRunner

    from rag.cli import app

    result = CliRunner().invoke(app, ["eval", "--dataset", str(tmp_path / "nope.jsonl"), "--no-ingest"])
    assert result.exit_code == 2
    assert "no dataset at" in result.output


def test_pubmedqa_sample_ignores_file_order_and_keeps_the_label_mix():
    from eval.pubmedqa import sample_ids

    # like test_ground_truth.json: ids grouped by label, every "yes" first
    labels = {f"{10_000_000 + i}": ("yes" if i < 550 else "no" if i < 890 else "maybe") for i in range(1000)}
    ids = list(labels)
    sample = sample_ids(ids, 200)
    assert len(set(sample)) == 200 and set(sample) <= set(ids)
    assert sample == sample_ids(list(reversed(ids)), 200), "the sample does not depend on the file's order"
    share = {lab: sum(labels[i] == lab for i in sample) / 200 for lab in ("yes", "no", "maybe")}
    assert 0.45 < share["yes"] < 0.65 and 0.25 < share["no"] < 0.45 and share["maybe"] > 0.05, share
    assert sample_ids(ids, None) == ids and sample_ids(ids, 5000) == ids
