"""Sentence boundaries exactly as llama-index draws them, without importing NLTK.

llama-index splits sentences (SentenceSplitter's first split, and `split_by_sentence_tokenizer`) with
NLTK's Punkt *untrained*: `PunktSentenceTokenizer()` with no abbreviation, collocation, sentence-starter
or orthographic statistics. `import nltk` pulls scikit-learn, SciPy and pandas with it: 0.7 s of a warm
cold-ingest and of every first question, ~9 s when the disk cache is cold (2-core EPYC, measured with
`python -X importtime`). With Punkt's parameters empty its decisions reduce to a handful of rules, so
this module is that algorithm, ported from nltk.tokenize.punkt (NLTK 3.10, Apache-2.0) with the
learned-statistics branches that can never fire left out. It uses the `regex` engine, as NLTK does
(tiktoken already depends on it), so character classes match the same characters.
tests/test_sentences.py checks that it gives NLTK's spans on every bundled abstract and on random text.
"""

from __future__ import annotations

import string
from collections.abc import Iterator

import regex

# -- Punkt's language variables (PunktLanguageVars), English defaults --------------------------
_SENT_END = (".", "?", "!")
_NON_WORD = r"(?:[)\";}\]\*:@\'\({\[\u2018\u2019\u201c\u201d\xab\xbb\?!])"
_MULTI_CHAR = r"(?:\-{2,}|\.{2,}|(?:\.\s){2,}\.)"
_WORD_START = r"[^\(\"\`{\[:;&\#\*@\)}\]\-,]"
_WORDS = regex.compile(
    r"""(
        %(MultiChar)s
        |
        (?=%(WordStart)s)\S+?  # Accept word characters until end is found
        (?= # Sequences marking a word's end
            \s|                                 # White-space
            $|                                  # End-of-string
            %(NonWord)s|%(MultiChar)s|          # Punctuation
            ,(?=$|\s|%(NonWord)s|%(MultiChar)s) # Comma if at end of word
        )
        |
        \S
    )"""
    % {"NonWord": _NON_WORD, "MultiChar": _MULTI_CHAR, "WordStart": _WORD_START},
    regex.UNICODE | regex.VERBOSE,
)
_PERIOD_CONTEXT = regex.compile(
    r"""
        [\.\?!]                      # a potential sentence ending
        (?=(?P<after_tok>
            %(NonWord)s              # either other punctuation
            |
            \s+(?P<next_tok>\S+)     # or whitespace and some other token
        ))"""
    % {"NonWord": _NON_WORD},
    regex.UNICODE | regex.VERBOSE,
)
_REALIGN = regex.compile(r'["\')\]}\u2018\u2019\u201c\u201d\xab\xbb]+?(?:\s+|(?=--)|$)', regex.MULTILINE)

# -- token properties (PunktToken) ------------------------------------------------------------
_ELLIPSIS = regex.compile(r"\.\.+$")
_NUMERIC = regex.compile(r"^-?[\.,]?\d[\d,\.-]*\.?$")
_INITIAL = regex.compile(r"[^\W\d]\.$", regex.UNICODE)
_PUNCTUATION = tuple(";:,.!?")


def _first_pass_break(tok: str) -> bool:
    """Punkt's type-based pass: '.', '?', '!' and any word ending in one '.' (no known abbreviations)."""
    if tok in _SENT_END:
        return True
    if _ELLIPSIS.match(tok):
        return False  # an ellipsis; only learned statistics could make it a break
    return tok.endswith(".") and not tok.endswith("..")


def _keeps_going(tok: str, nxt: str) -> bool:
    """Punkt's second pass with empty statistics: an initial ("J.") or a number ("3.") before a lower-case
    word or punctuation is no break, nor is an initial before a capitalised word."""
    if not tok.endswith("."):
        return False
    typ = _NUMERIC.sub("##number##", tok.lower())
    if len(typ) > 1 and typ[-1] == ".":
        typ = typ[:-1]
    initial = bool(_INITIAL.match(tok))
    if not (initial or typ == "##number##"):
        return False
    if nxt in _PUNCTUATION or nxt[0].islower():  # the orthographic heuristic says "not a sentence starter"
        return True
    return initial and nxt[0].isupper()


def _words(text: str) -> list[str]:
    return [tok for line in text.split("\n") if line.strip() for tok in _WORDS.findall(line)]


def _contains_break(context: str) -> bool:
    """True if a token other than the last one ends a sentence (Punkt's text_contains_sentbreak)."""
    toks = _words(context)
    return any(_first_pass_break(t) and not _keeps_going(t, n) for t, n in zip(toks, toks[1:]))


def _last_whitespace(text: str) -> int:
    for i in range(len(text) - 1, -1, -1):
        if text[i] in string.whitespace:
            return i
    return 0


def _end_contexts(text: str) -> Iterator[tuple[regex.Match, str]]:
    """Each candidate sentence end with the word before it and the token after it (non-overlapping)."""
    previous = slice(0, 0)
    previous_match = None
    for match in _PERIOD_CONTEXT.finditer(text):
        before = text[previous.stop : match.start()]
        start = _last_whitespace(before)
        start = start + previous.stop + 1 if start else previous.start
        word = slice(start, match.start())
        if previous_match and previous.stop <= word.start:
            yield previous_match, text[previous] + previous_match.group() + previous_match.group("after_tok")
        previous_match = match
        previous = word
    if previous_match:
        yield previous_match, text[previous] + previous_match.group() + previous_match.group("after_tok")


def _slices(text: str) -> Iterator[slice]:
    last = 0
    for match, context in _end_contexts(text):
        if _contains_break(context):
            yield slice(last, match.end())
            last = match.start("next_tok") if match.group("next_tok") else match.end()
    yield slice(last, len(text.rstrip()))


def spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence: `PunktSentenceTokenizer().span_tokenize(text)`, realigned closing
    quotes and brackets included."""
    out: list[tuple[int, int]] = []
    parts = list(_slices(text))
    realign = 0
    for i, first in enumerate(parts):
        first = slice(first.start + realign, first.stop)
        if i + 1 == len(parts):
            if text[first]:
                out.append((first.start, first.stop))
            continue
        second = parts[i + 1]
        m = _REALIGN.match(text[second])
        if m:
            out.append((first.start, second.start + len(m.group(0).rstrip())))
            realign = m.end()
        else:
            realign = 0
            if text[first]:
                out.append((first.start, first.stop))
    return out


def split(text: str) -> list[str]:
    """Sentences with the whitespace after each kept (llama-index's `split_by_sentence_tokenizer`)."""
    starts = [s for s, _ in spans(text)]
    return [text[s : (starts[i + 1] if i + 1 < len(starts) else len(text))] for i, s in enumerate(starts)]
