"""Follow-up questions: rewrite "and which of those ...?" into a standalone question before retrieval.

Retrieval and the answerer see one question at a time, so a follow-up that leans on the chat
("those", "it", a leading "and") would retrieve nothing useful. `condense` detects follow-ups
with cheap lexical cues (no model, offline) and appends the earlier topic words and, when the
follow-up points at the papers themselves ("which of them"), the titles cited in the previous
answer, in a visible `(context: ...)` suffix that later turns can parse back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.lexical import STOPWORDS
from rag.models import Answer

MAX_TOPIC_WORDS = 12
MAX_TITLES = 4
MAX_CHARS = 1500  # well under AnswerSettings.max_question_chars (2000 by default)

_WORD = re.compile(r"[\w][\w\-']*")
_CONTEXT = re.compile(r"\s*\(context: (?P<topic>.*?)(?:; papers: (?P<titles>.*))?\)\s*$", re.DOTALL)
_LEADING = re.compile(
    r"^(?:and|also|plus|so|then|ok(?:ay)?|now|but|what about|how about|and what about|and how about)\b[\s,]*",
    re.IGNORECASE,
)
_STARTS_FOLLOW_UP = re.compile(r"^(?:what|how) about\b", re.IGNORECASE)
# Words that point back at something said before.
_ANAPHORA = {
    "it", "its", "they", "them", "their", "theirs", "those", "these", "such", "former", "latter",
    "above", "aforementioned", "same", "ones", "both", "either", "neither", "each",
}
# "this/that <noun>" points back too ("that paper", "this method").
_DEMONSTRATIVE = re.compile(
    r"\b(?:this|that)\s+(?:paper|work|study|method|approach|model|technique|one|result|idea|dataset)\b",
    re.IGNORECASE,
)
# Pointers at the previous answer's set of papers: add their titles.
_SET_POINTERS = {"those", "these", "them", "they", "their", "ones", "both", "either", "neither", "each"}
_STOP = set(STOPWORDS)


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: the question as retrieved (standalone) and the titles it cited."""

    question: str
    cited_titles: tuple[str, ...] = ()

    @classmethod
    def from_answer(cls, answer: Answer) -> Turn:
        return cls(answer.question, tuple(c.title for c in answer.citations))


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def split_context(question: str) -> tuple[str, str, list[str]]:
    """(question, topic, titles) of a condensed question; ('q', '', []) when it has no context."""
    m = _CONTEXT.search(question)
    if not m:
        return question.strip(), "", []
    titles = [t.strip() for t in (m.group("titles") or "").split("; ") if t.strip()]
    return question[: m.start()].strip(), m.group("topic").strip(), titles


def is_follow_up(question: str) -> bool:
    """True when the question leans on the chat: a leading "and"/"what about", or a back-reference."""
    q = question.strip()
    if _LEADING.match(q) or _STARTS_FOLLOW_UP.match(q) or _DEMONSTRATIVE.search(q):
        return True
    return any(w in _ANAPHORA for w in _words(q))


def _points_at_papers(question: str) -> bool:
    return any(w in _SET_POINTERS for w in _words(question)) or bool(_DEMONSTRATIVE.search(question))


def topic_words(text: str, exclude: set[str] | None = None) -> list[str]:
    """Content words of a question in order (case kept), without stopwords or duplicates."""
    seen = {w.lower() for w in exclude or ()}
    out: list[str] = []
    for word in _WORD.findall(text):
        w = word.lower()
        if w in _STOP or w in _ANAPHORA or len(w) < 2 or w in seen:
            continue
        seen.add(w)
        out.append(word)
    return out


def _as_turn(item: Answer | Turn) -> Turn:
    return item if isinstance(item, Turn) else Turn.from_answer(item)


def condense(question: str, history: Sequence[Answer | Turn] | None) -> str:
    """A standalone version of `question` given earlier turns (oldest first); unchanged if not a follow-up.

    Example: after "which papers make linear attention fast on GPUs?", the follow-up "and which of
    those scale to billions of parameters?" becomes "Which of those scale to billions of
    parameters? (context: make linear attention fast GPUs; papers: <titles cited last turn>)".
    """
    q = " ".join((question or "").split())
    if not q or not history or not is_follow_up(q):
        return q
    prev = _as_turn(history[-1])
    prev_question, prev_topic, _ = split_context(prev.question)
    core = q if _STARTS_FOLLOW_UP.match(q) else _LEADING.sub("", q, count=1) or q
    core = core[0].upper() + core[1:] if core else q
    topic = topic_words(f"{prev_question} {prev_topic}", exclude=set(_words(core)))[:MAX_TOPIC_WORDS]
    if not topic and not prev.cited_titles:
        return q
    context = " ".join(topic) or prev_question
    titles = list(dict.fromkeys(prev.cited_titles))[:MAX_TITLES] if _points_at_papers(core) else []
    while titles and len(core) + len(context) + sum(len(t) + 2 for t in titles) + 30 > MAX_CHARS:
        titles.pop()
    suffix = f"; papers: {'; '.join(titles)}" if titles else ""
    standalone = f"{core} (context: {context}{suffix})"
    return standalone if len(standalone) <= MAX_CHARS else q
