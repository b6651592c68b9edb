"""rag.sentences must split exactly as llama-index's NLTK Punkt splitting does (chunks, evidence and the
verifier all depend on it), while importing no NLTK at run time."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_index.core.node_parser.text.utils import split_by_sentence_tokenizer
from nltk.tokenize import PunktSentenceTokenizer

from rag import sentences
from rag.corpus.loader import load_corpus

PUNKT = PunktSentenceTokenizer()  # untrained: what llama-index's globals_helper builds
LLAMA_SPLIT = split_by_sentence_tokenizer()

# pieces that exercise every rule: initials, numbers, abbreviations, ellipses, quotes and brackets
# after a full stop, curly quotes, guillemets, dashes, blank lines, non-ASCII letters
PIECES = list("aAzZ09 .?!,;:()[]{}\"'-\n\t…“”‘’«»éß€#*@&`") + [
    "J. ",
    "e.g. ",
    "Fig. ",
    "3. ",
    "1.5. ",
    "... ",
    "U.S. ",
    " the ",
    " The ",
    ". \n\n",
    "--",
    "[1]",
    "**Bold?** ",
]


def test_every_bundled_abstract_and_title_splits_as_nltk_does():
    papers, _, _, _ = load_corpus(None, 10**8)
    texts = [t for p in papers for t in (p.title, p.abstract)]
    assert len(texts) == 742
    for text in texts:
        assert sentences.spans(text) == list(PUNKT.span_tokenize(text)), text[:120]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "One sentence without a stop",
        "J. S. Bach wrote it. Then he left.",
        "It improves FID from 2.76 to 2.59. The model is small.",
        "We use 3. the second item. And more.",
        "See Fig. 3 for details (e.g. the table). It works!",
        'He said "stop." Then "go."',
        "(First sentence.) Second one? Third!",
        "Wait... what? Yes.\n\nNew paragraph. «Quoted.» Done.",
        "Trained on the U.S. census. The results hold.",
        "Ends with a citation [1]. Next [2, 3].",
    ],
)
def test_hand_written_cases_match_nltk(text):
    assert sentences.spans(text) == list(PUNKT.span_tokenize(text))
    assert sentences.split(text) == LLAMA_SPLIT(text)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_random_text_matches_nltk(text):
    assert sentences.spans(text) == list(PUNKT.span_tokenize(text))
    assert sentences.split(text) == LLAMA_SPLIT(text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_unicode_matches_nltk(text):
    assert sentences.split(text) == LLAMA_SPLIT(text)


def test_chunking_and_answer_paths_import_no_nltk():
    code = (
        "import sys\n"
        "from rag.index import Index\n"
        "from rag.settings import Settings\n"
        "from rag.text import split_sentences\n"
        "Index(Settings()).splitter().split_text('A first sentence. A second one. ' * 50)\n"
        "split_sentences('It works [1]. It is fast [2].')\n"
        "print('nltk' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
