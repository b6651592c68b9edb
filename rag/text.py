"""Token counting and sentence splitting, offline.

tiktoken's cl100k table and NLTK's punkt data ship inside llama-index-core, so neither downloads.
"""

from __future__ import annotations

import re
from functools import lru_cache

from llama_index.core.node_parser.text.utils import split_by_sentence_tokenizer
from llama_index.core.utils import get_tokenizer


@lru_cache(maxsize=1)
def _encode():
    return get_tokenizer()  # cl100k_base from llama-index's bundled cache


def tokenizer():
    """The cl100k `encode` function used to measure chunks and prompt budgets."""
    return _encode()


def count_tokens(text: str) -> int:
    return len(_encode()(text))


@lru_cache(maxsize=1)
def _splitter():
    return split_by_sentence_tokenizer()


_CITE_ONLY = re.compile(r"^(\s*\[\d+(?:\s*,\s*\d+)*\]\s*)+[.]?$")
_ABBREV_END = re.compile(r"(?:\b(?:e\.g|i\.e|et al|vs|cf|Fig|Eq|approx|resp)\.)$", re.IGNORECASE)


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage or an answer; a trailing lone "[n]" stays with its sentence."""
    out: list[str] = []
    for part in _splitter()(text):
        part = part.strip()
        if not part:
            continue
        if out and (_CITE_ONLY.match(part) or _ABBREV_END.search(out[-1])):
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return out
