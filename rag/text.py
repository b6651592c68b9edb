"""Token counting and sentence splitting, offline.

tiktoken's cl100k table ships inside llama-index-core, so it never downloads; sentences are split by
rag.sentences (llama-index's own Punkt splitting, without importing NLTK).
"""

from __future__ import annotations

import re
from functools import lru_cache

from llama_index.core.utils import get_tokenizer

from rag import sentences


@lru_cache(maxsize=1)
def _encode():
    return get_tokenizer()  # cl100k_base from llama-index's bundled cache


def tokenizer():
    """The cl100k `encode` function used to measure chunks and prompt budgets."""
    return _encode()


def count_tokens(text: str) -> int:
    return len(_encode()(text))


# A reference marker as abstracts write them: "[3]", "[7, 8]", "[12-14]", "[ 5 ]".
_CORPUS_REF = re.compile(r"\s*\[\s*\d+(?:\s*[,;\u2013-]\s*\d+)*\s*\]")


def neutralize_refs(text: str) -> str:
    """Corpus text without its own reference markers.

    An abstract's "[3]" points into that paper's bibliography; copied into an answer it would read
    as a citation of another retrieved paper (and the verifier would renumber it). Every piece of
    corpus text is passed through this before an answer is composed from it or checked against it.
    """
    return _CORPUS_REF.sub("", text) if "[" in text else text


def with_marker(sentence: str, marker: str) -> str:
    """Put a citation marker before the sentence's final punctuation: 'It works [1].'"""
    s = sentence.rstrip()
    if s and s[-1] in ".!?":
        return f"{s[:-1].rstrip()} {marker}{s[-1]}"
    return f"{s} {marker}."


def cite(sentence: str, numbers: list[int]) -> str:
    """The sentence citing these sources: 'It works [1, 2].'"""
    return with_marker(sentence, "[" + ", ".join(map(str, numbers)) + "]")


def plain_title(title: str) -> str:
    """A title as an answer shows it: no reference markers, no emphasis markup of its own."""
    return " ".join(neutralize_refs(title).replace("*", "").split())


_CITE_ONLY = re.compile(r"^(\s*\[\d+(?:\s*,\s*\d+)*\]\s*)+[.]?$")
_ABBREV_END = re.compile(r"(?:\b(?:e\.g|i\.e|et al|vs|cf|Fig|Eq|approx|resp|i\.i\.d|w\.r\.t)\.)$", re.IGNORECASE)
# Untrained Punkt also ends a sentence at "etc." and at "!"/"?"/"." closed by a quote or bracket
# ('the "Let it Wag!" benchmark', '(compared to BLIP-2, etc.) or'); a lower-case word after one of
# those continues the sentence.
_SOFT_END = re.compile(r"(?:\betc\.|[.!?][\"'\u201d\u2019)\]]+)$", re.IGNORECASE)


# Scraped abstracts sometimes lose the space after a full stop ("…to images.In this paper, we…");
# Punkt sees one word there. Split where a lower-case word ends with "." glued to a word that starts
# sentences in abstracts (no text is changed: both halves are substrings of the source).
_GLUED = re.compile(
    r"(?<=[a-z]{2}[.!?])(?=(?:In|We|Our|This|These|The|To|However|Moreover|Furthermore|Finally|Here|Unlike|"
    r"Experiments|Extensive|Results|Specifically|Additionally|Despite|Although|While|Using|Based|Existing|"
    r"Recent|Code|Its|It|Such|Thus|Therefore|Overall|First|Second|Third|Empirical)\b)"
)


# Links and availability notes are never the answer to a research question (the extractive score
# and the learned sentence scorer both discount them).
BOILERPLATE = re.compile(
    r"https?://|github\.com|\b(?:code|models?|data(?:set)?s?) (?:is|are|will be) (?:publicly )?available", re.I
)


_BOLD = re.compile(r"\*\*[^*\n]+\*\*")
_PROTECT = {".": "\u2024", "?": "\ufe56", "!": "\ufe57"}
_RESTORE = {v: k for k, v in _PROTECT.items()}


def _protect_bold(text: str) -> str:
    """Paper titles are set in **bold** in answers; "?" or "!" inside a title ends no sentence."""
    return _BOLD.sub(lambda m: m.group(0).translate(str.maketrans(_PROTECT)), text)


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage or an answer; a trailing lone "[n]" stays with its sentence, and so does
    what follows an abbreviation ("e.g.", "vs.", "etc.") or a quoted title ending in "!" or "?"."""
    out: list[str] = []
    restore = str.maketrans(_RESTORE)
    for part in (g.translate(restore) for p in sentences.split(_protect_bold(text)) for g in _GLUED.split(p)):
        part = part.strip()
        if not part:
            continue
        if out and (
            _CITE_ONLY.match(part) or _ABBREV_END.search(out[-1]) or (part[0].islower() and _SOFT_END.search(out[-1]))
        ):
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return out
