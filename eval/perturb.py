"""Rule-based sentence edits for the checker's labeled set: light paraphrases and unfaithful edits.

Each function takes a sentence (and what it needs from the corpus) and returns the edited sentence,
or None when the edit does not apply. They are deterministic given the `random.Random` passed in.
"""

from __future__ import annotations

import random
import re

# Standalone numbers: not glued to letters ("ResNet50", "1K"), not list markers "(1)".
NUMBER = re.compile(r"(?<![\w.^/-])(\d+(?:\.\d+)?)(?!\w|\.\d|\))")
# Method / dataset names: CamelCase, ACRONYMS, or a capitalised word in mid-sentence.
NAME = re.compile(r"\b(?:[A-Z][a-z]+[A-Z][\w-]*|[A-Z]{2,}[\w-]*|[A-Z][a-z]{3,})\b")
_SENTENCE_START = re.compile(r"^\W*\w+")


def _numbers(text: str) -> list[str]:
    return NUMBER.findall(text)


def _new_number(value: str, taken: set[str], rng: random.Random) -> str | None:
    """A plausible different value of the same shape that the abstract does not contain."""
    if "." in value:
        places = len(value.split(".")[1])
        v = float(value)
        for _ in range(20):
            delta = max(v * rng.uniform(0.08, 0.45), 10**-places)
            cand = f"{max(v + rng.choice((-1, 1)) * delta, 10**-places):.{places}f}"
            if cand != value and cand not in taken:
                return cand
        return None
    n = int(value)
    if 1900 <= n <= 2099:
        options = [n + d for d in (-3, -2, -1, 1, 2)]
    else:
        options = (
            [n + d for d in range(1, 10)] + [n * 2, n * 3, max(n // 2, 1)] + [n - d for d in range(1, 5)]
        )
    options = [str(o) for o in options if o > 0 and str(o) != value and str(o) not in taken]
    return rng.choice(options) if options else None


def _replace_span(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def swap_number(sentence: str, abstract: str, rng: random.Random, internal: bool) -> str | None:
    """Change one number: to a new value (internal=False) or to another number of the abstract."""
    spans = [m for m in NUMBER.finditer(sentence)]
    if not spans:
        return None
    m = rng.choice(spans)
    value = m.group(1)
    taken = set(_numbers(abstract))
    if internal:
        others = sorted({n for n in taken if n != value and n not in _numbers(sentence)})
        if not others:
            return None
        new = rng.choice(others)
    else:
        new = _new_number(value, taken, rng)
        if new is None:
            return None
    return _replace_span(sentence, m.start(1), m.end(1), new)


def names_in(sentence: str) -> list[str]:
    """Names in a sentence, leaving out its first word (capitalised anyway)."""
    first = _SENTENCE_START.match(sentence)
    skip = first.end() if first else 0
    return [m.group(0) for m in NAME.finditer(sentence) if m.start() >= skip or m.group(0).isupper()]


def swap_entity(sentence: str, abstract: str, foreign_names: list[str], rng: random.Random) -> str | None:
    """Replace a named method/dataset by a name taken from another abstract."""
    names = sorted(set(names_in(sentence)))
    if not names:
        return None
    name = rng.choice(names)
    low = abstract.lower()
    # a variant of the same name ("Markov" / "Markovian") would not change the claim
    stem = name.lower()[:4]
    pool = [n for n in foreign_names if n.lower() not in low and not n.lower().startswith(stem)]
    same_shape = [n for n in pool if n.isupper() == name.isupper()]
    pool = same_shape or pool
    if not pool:
        return None
    return re.sub(rf"\b{re.escape(name)}\b", rng.choice(pool), sentence)


_REMOVE_NEG = [
    (re.compile(r"\bcannot\b"), "can"),
    (
        re.compile(
            r"\b(does|do|did|is|are|was|were|can|could|will|would|should|may|might|has|have) not\b(?! only)"
        ),
        r"\1",
    ),
    (re.compile(r"\bwithout\b"), "with"),
    (re.compile(r"\bno longer\b"), "still"),
]
_AUX = re.compile(r"\b(is|are|was|were|can|will|has|have|does|do|could|would|should)\b(?! not)")
_VERB_S = {
    "improves": "improve",
    "outperforms": "outperform",
    "achieves": "achieve",
    "reduces": "reduce",
    "increases": "increase",
    "enables": "enable",
    "surpasses": "surpass",
    "provides": "provide",
    "requires": "require",
    "supports": "support",
    "yields": "yield",
    "boosts": "boost",
    "matches": "match",
    "exceeds": "exceed",
    "leads": "lead",
    "allows": "allow",
    "captures": "capture",
    "generalizes": "generalize",
    "preserves": "preserve",
    "scales": "scale",
    "learns": "learn",
}
_ANTONYM_PAIRS = [
    ("improves", "degrades"),
    ("improve", "degrade"),
    ("improved", "degraded"),
    ("outperforms", "underperforms"),
    ("outperform", "underperform"),
    ("increases", "decreases"),
    ("increase", "decrease"),
    ("higher", "lower"),
    ("better", "worse"),
    ("faster", "slower"),
    ("larger", "smaller"),
    ("superior", "inferior"),
    ("reduces", "increases"),
    ("reduced", "increased"),
    ("more", "less"),
    ("effective", "ineffective"),
    ("efficient", "inefficient"),
    ("stable", "unstable"),
    ("best", "worst"),
    ("consistently", "rarely"),
    ("strong", "weak"),
    ("fewer", "more"),
    ("accurate", "inaccurate"),
]
_ANTONYM = {a: b for a, b in _ANTONYM_PAIRS} | {
    b: a for a, b in _ANTONYM_PAIRS if b not in dict(_ANTONYM_PAIRS)
}


def negate(sentence: str, rng: random.Random) -> tuple[str, str] | None:
    """Flip the claim's polarity -> (new sentence, which rule), or None."""
    rules = ["remove", "aux", "verb", "antonym", "fails"]
    rng.shuffle(rules)
    for rule in rules:
        out = _negate_with(rule, sentence, rng)
        if out and out != sentence:
            return out, rule
    return None


def _negate_with(rule: str, s: str, rng: random.Random) -> str | None:
    if rule == "remove":
        for pattern, repl in _REMOVE_NEG:
            if pattern.search(s):
                return pattern.sub(repl, s, count=1)
        return None
    if rule == "aux":
        m = _AUX.search(s)
        if not m:
            return None
        word = m.group(1)
        return _replace_span(s, m.start(), m.end(), "cannot" if word == "can" else f"{word} not")
    if rule in ("verb", "fails"):
        hits = [m for m in re.finditer(r"\b(" + "|".join(_VERB_S) + r")\b", s)]
        if not hits:
            return None
        m = rng.choice(hits)
        base = _VERB_S[m.group(1)]
        new = f"fails to {base}" if rule == "fails" else f"does not {base}"
        return _replace_span(s, m.start(), m.end(), new)
    if rule == "antonym":
        hits = [m for m in re.finditer(r"\b(" + "|".join(_ANTONYM) + r")\b", s)]
        if not hits:
            return None
        m = rng.choice(hits)
        return _replace_span(s, m.start(), m.end(), _ANTONYM[m.group(1)])
    raise ValueError(rule)


_OPENERS = re.compile(
    r"^(?:Moreover|Furthermore|Additionally|In addition|Specifically|Finally|Overall|Notably|Importantly|"
    r"Empirically|Concretely|Besides|In particular|As a result|Experimentally|To this end|Thus|Therefore|"
    r"Consequently|In this paper|In this work|In this study|Here),\s+"
)
_PRONOUNS = [
    (re.compile(r"^In this (?:paper|work|study), we\b"), "The authors"),
    (re.compile(r"^(?:Here|Here,) we\b"), "The authors"),
    (re.compile(r"\bWe\b"), "The authors"),
    (re.compile(r"\bwe\b"), "the authors"),
    (re.compile(r"\bOur\b"), "Their"),
    (re.compile(r"\bour\b"), "their"),
]
_SYNONYMS = [
    ("demonstrates", "shows"),
    ("demonstrate", "show"),
    ("utilizes", "uses"),
    ("utilize", "use"),
    ("significantly", "substantially"),
    ("novel", "new"),
    ("approach", "method"),
    ("approaches", "methods"),
    ("numerous", "many"),
    ("various", "several"),
    ("extensive", "thorough"),
    ("obtains", "gets"),
    ("enhances", "improves"),
    ("enhance", "improve"),
    ("commonly", "often"),
    ("crucial", "essential"),
    ("however", "yet"),
    ("leverages", "uses"),
    ("leverage", "use"),
    ("achieves", "reaches"),
]
_CLAUSE = re.compile(r"(?:, which |, where |; |, while |, whereas )")


def _upper_first(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def _lower_first(s: str) -> str:
    first = s.split(" ", 1)[0]
    if NAME.fullmatch(first.strip(",.:;")) and not first.istitle() or first.isupper():
        return s  # keep "LZN ...", "MTLoRA ..."
    return s[:1].lower() + s[1:]


def paraphrase(sentence: str, rng: random.Random, truncate: bool = True) -> str | None:
    """A light, meaning-preserving rewrite: reported speech, synonyms, dropped openers or clauses.

    truncate=False for edited sentences: dropping a clause could drop the edit with it.
    """
    s = sentence
    for pattern, repl in _PRONOUNS:
        s = pattern.sub(repl, s)
    optional = ["opener", "synonyms", "prefix"] + (["truncate"] if truncate else [])
    rng.shuffle(optional)
    for step in optional[: rng.randint(1, 3)]:
        if step == "opener":
            s = _upper_first(_OPENERS.sub("", s))
        elif step == "synonyms":
            for a, b in _SYNONYMS:
                if rng.random() < 0.7:
                    s = re.sub(rf"\b{a}\b", b, s)
        elif step == "prefix" and not s.startswith(("The paper reports", "According")):
            lead = rng.choice(
                ["The paper reports that ", "According to the abstract, ", "The abstract states that "]
            )
            s = lead + _lower_first(s)
        elif step == "truncate":
            m = _CLAUSE.search(s)
            if m and len(s[: m.start()].split()) >= 8:
                s = s[: m.start()].rstrip(",;") + "."
    s = re.sub(r"\s+", " ", s).strip()
    return s if s != sentence else None
