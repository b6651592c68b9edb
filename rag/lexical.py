"""Shared lexical helpers: stemmed content words, for BM25 queries and support checks."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

STEMMER = Stemmer.Stemmer("english")

# Words that frame a question about papers but say nothing about the topic.
QUESTION_WORDS = {
    "paper", "papers", "abstract", "abstracts", "study", "studies", "work", "works", "author",
    "authors", "propose", "proposes", "proposed", "present", "presents", "introduce",
    "introduces", "which", "what", "how", "why", "who", "whose", "does", "do", "did", "any",
    "corpus", "collection", "describe", "describes", "report", "reports", "mention",
    "mentions", "tell", "me", "list", "name", "some", "there", "paper's",
}
STOPWORDS = sorted(set(STOPWORDS_EN_PLUS) | QUESTION_WORDS)
_STOP = set(STOPWORDS)
_WORD = re.compile(r"(?u)\b\w\w+\b")


@lru_cache(maxsize=50_000)
def _stem(word: str) -> str:
    return STEMMER.stemWord(word)


def content_stems(text: str) -> list[str]:
    """Lower-cased, stop-worded, stemmed words of a text."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]
