"""LLM-judge faithfulness, Ragas-style: split the answer into atomic statements, then ask for a
verdict on each against the retrieved passages; faithfulness = supported statements / statements.
Runs only when a judge endpoint is configured (RAG_EVAL__JUDGE_BASE_URL / RAG_EVAL__JUDGE_API_KEY).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eval.llm import ChatClient, parse_json
from rag.errors import LLMError
from rag.models import Passage
from rag.verify import strip_markers

STATEMENTS_PROMPT = """Given a question and an answer, break the answer down into fully understandable, \
atomic factual statements. Replace pronouns with what they refer to. Leave out statements about the \
answer itself (e.g. "the abstracts do not say").

Question: {question}
Answer: {answer}

Reply with JSON only: {{"statements": ["...", "..."]}}"""

VERDICTS_PROMPT = """Judge the faithfulness of statements to a context. For each statement, the verdict \
is 1 if it can be directly inferred from the context and 0 if it cannot (not stated, or contradicted).

Context:
{context}

Statements:
{statements}

Reply with JSON only: {{"verdicts": [{{"statement": "...", "reason": "...", "verdict": 1}}, ...]}} \
with one entry per statement, in order."""


@dataclass
class JudgeResult:
    statements: list[str] = field(default_factory=list)
    verdicts: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def faithfulness(self) -> float | None:
        return sum(self.verdicts) / len(self.verdicts) if self.verdicts else None


def _context(passages: list[Passage]) -> str:
    return "\n\n".join(f"[{i}] {p.title}\n{p.text}" for i, p in enumerate(passages, start=1))


def judge_answer(
    client: ChatClient, question: str, answer: str, passages: list[Passage], max_statements: int = 12
) -> JudgeResult:
    """Ragas faithfulness of one answer against the passages; errors are recorded, not raised."""
    text = " ".join(strip_markers(s) for s in answer.split("\n") if s.strip())
    try:
        reply = client.complete(
            [{"role": "user", "content": STATEMENTS_PROMPT.format(question=question, answer=text)}]
        )
        raw = parse_json(reply)
        statements = raw.get("statements", []) if isinstance(raw, dict) else raw
        statements = [str(s).strip() for s in statements if str(s).strip()][:max_statements]
        if not statements:
            return JudgeResult(error="the judge found no statements")
        listing = "\n".join(f"{i}. {s}" for i, s in enumerate(statements, start=1))
        reply = client.complete(
            [
                {
                    "role": "user",
                    "content": VERDICTS_PROMPT.format(context=_context(passages), statements=listing),
                }
            ],
            max_tokens=200 + 120 * len(statements),
        )
        raw = parse_json(reply)
        verdicts = raw.get("verdicts", []) if isinstance(raw, dict) else raw
    except (LLMError, ValueError, AttributeError) as exc:
        return JudgeResult(error=f"{exc.__class__.__name__}: {exc}")
    result = JudgeResult(statements=statements)
    for i, _ in enumerate(statements):
        v = verdicts[i] if i < len(verdicts) and isinstance(verdicts[i], dict) else {}
        try:
            result.verdicts.append(1 if int(v.get("verdict", 0)) == 1 else 0)
        except (TypeError, ValueError):
            result.verdicts.append(0)  # an unreadable verdict counts as not supported
        result.reasons.append(str(v.get("reason", "")))
    return result
