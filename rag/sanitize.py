"""Text from outside (questions, file names, corpus fields) made safe to store and to print.

Two hazards no library here removes for us: lone surrogates, which Python produces for bytes that
are not UTF-8 (command-line arguments, file names) and which JSON, Chroma and tokenizers refuse;
and control characters (ANSI escapes, bidi overrides), which a terminal obeys instead of showing.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls except tab and newline, DEL, and the bidi overrides/isolates a terminal
# would use to reorder what is shown.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def replace_surrogates(text: str) -> str:
    """Each lone surrogate (an undecodable byte, or a broken UTF-16 pair) becomes U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def printable(text: object) -> str:
    """`text` as a string a terminal shows literally: no escape sequences, no surrogates.

    Carriage returns go too (they let a line overwrite what was printed before it).
    """
    return _CONTROL.sub("", replace_surrogates(str(text)))
