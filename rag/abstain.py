"""When to say "the abstracts don't answer this".

Evidence strength, hand-written because no library offers it: the best sentence's similarity to
the question, plus how much of the question's rare (high-IDF) vocabulary the best passage covers,
minus the share of question vocabulary the corpus has never seen; compared with a threshold
calibrated on eval/gold.jsonl (scripts/calibrate_abstention.py).

Quantity questions ("how many GPUs", "what accuracy") are recognised so the answerer prefers
sentences that give a number for the asked-for thing. Using that narrow check (the first word after
"how many" must sit next to a digit anywhere in the retrieved papers) to abstain was measured and
rejected: on the gold set it abstained on 8 of 36 answerable quantity questions and caught only 3 of
11 unanswerable ones. The figure check that is used (`figure_terms`/`states_figure`) reads the whole
asked-for noun phrase, accepts number words and percentages, skips "which paper..." questions, and
looks only at the top papers (answer.figure_check_papers): on the 155 tuning questions, top 2
papers, it would abstain on 7 of 11 unanswerable quantity questions and 0 of 35 answerable ones
(top 1: 9 and 1; top 3: 6 and 1; top 5: 3 and 1). When the question names a rare system
("Arctic-Embed 2.0", "RemoteCLIP") and one of those top papers mentions it, only the papers naming
it count (`papers_named`; rag.extractive.FIGURE_NAMED): a neighbour's figure about languages does
not answer "how many languages does Arctic-Embed 2.0 support". Abstention on unanswerable questions
0.867 -> 0.933 tuning, 0.667 -> 0.704 held-out, false abstention unchanged (eval/runs/compose).
Tried 2026-12-05 and off (eval/runs/figure_given): a figure counting only within FIGURE_WINDOW words
of the asked-for term, not when the question states it itself ("the 1.3B model", "of the ten
datasets"), not when part of a name ("ResNet-50", "3D"), and "how many of the N <things> …" asking
about <things>. On the three tuning sets 8 more unanswerable questions withheld and no answerable
one; on the held-out set no more withheld and one answerable one lost, so the rule written before
that run turned all four off. They stay as constants so the measurement can be repeated.

Names (`names_in`/`missing_names`): a question that names something specific — an acronym, a
dataset, a model, a task ("QM9", "BraTS", "ETTh1", "Path-X", "256x256", "MEMIT") — is not answered by
papers that never mention it, however close they are in meaning. Names are recognised by their
spelling (two capitals, an inner capital, letters mixed with digits), and names common in the
corpus (LLM, GPU) are skipped: an abstract may spell those out instead.
"""

from __future__ import annotations

import math
import re

from rag.lexical import content_stems

COVERAGE_WEIGHT = 0.3
UNSEEN_WEIGHT = 0.4
_DIGIT = re.compile(r"\d")
_HOW = re.compile(r"\bhow\s+(?:many|much|long|large|big|fast|often)\b\s*(?P<rest>[^?.,;]*)", re.I)
_WHAT = re.compile(
    r"\bwhat\s+(?P<rest>(?:[\w-]+\s+){0,4}?(?:accuracy|rate|size|number|percentage|score|"
    r"latency|speed|cost|fid|bleu|f1|ratio|dose|budget|count|dimension|length|perplexity|"
    r"speedup|throughput|error|auc|map|recall|precision|"
    # metrics a tuning set asked for by name (eval/tune_extra.jsonl: "what mIoU", "what MRR@10", "what
    # Spearman correlation"); not "factor", "gain", "value": their figure is written "3.6x", "+2.1", "k=5"
    r"ap|miou|iou|mrr|ndcg|correlation|fraction|proportion|rouge|wer|psnr|ssim)s?)\b",
    re.I,
)
_VERBS = {"does", "do", "did", "is", "are", "was", "were", "can", "could", "would", "will", "has", "have"}


def quantity_focus(question: str) -> list[str] | None:
    """Stems naming the asked-for quantity, [] for "how much does X..." style, None otherwise."""
    m = _HOW.search(question)
    if m:
        raw = m["rest"].split()
        if not raw or raw[0].lower() in _VERBS:
            return []  # "how much does X improve...": any figure will do
        return content_stems(raw[0])[:1]
    m = _WHAT.search(question)
    if m:
        return content_stems(m["rest"])[-1:]
    return None


_STOP_FOCUS = _VERBS | {"and", "or", "to", "for", "in", "of", "on", "with", "per", "at", "by", "from", "when", "if"}
_COUNTS = r"two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty"
_NUMBER_WORDS = re.compile(
    rf"\b(?:one|{_COUNTS}|hundreds?|thousands?|millions?|billions?|dozens?|twice|thrice|half|double|triple)\b",
    re.I,
)
_ASKS_PAPER = re.compile(r"\b(?:which|what)\s+(?:papers?|works?|stud(?:y|ies)|articles?)\b", re.I)
_SHARE = {"percentag", "percent", "fraction", "share", "proport", "ratio"}


_ASKS_NAMES = re.compile(
    r"\b(?:which|what)\s+(?:[\w-]+\s+){0,2}?(?:datasets?|benchmarks?|tasks?|models?|languages?|baselines?|"
    r"corpora|metrics?|backbones?|architectures?|toolkits?|frameworks?|collections?|knowledge\s+bases?)\b",
    re.I,
)


def asks_names(question: str) -> bool:
    """Whether the question asks for named things ("which benchmarks…", "what base model…")."""
    return bool(_ASKS_NAMES.search(question))


def asks_paper(question: str) -> bool:
    """Whether the question asks for a paper ("which paper...", "what studies..."), not a fact."""
    return bool(_ASKS_PAPER.search(question))


def asks_detail(question: str) -> bool:
    """Whether the question asks for a figure or a named thing ("how many layers…", "which dataset…"), not
    for a paper, a yes/no or an explanation: the questions whose answer a few words from one abstract can
    give (answer.model_check_reply)."""
    return (quantity_focus(question) is not None or asks_names(question)) and not asks_paper(question)


# "How many of the (more than) 15 backbone models compared … are …?": the asked-for noun is the
# whole's ("backbone models"), and the figure must be another than the whole's own (FIGURE_NOT_GIVEN).
HOW_MANY_OF = False
_OF_THE = re.compile(
    r"of\s+(?:the|these|those|its|their|all)\s+(?:(?:more\s+than|over|about|roughly|around|nearly|"
    rf"approximately|some)\s+)?(?:[\d.,]+(?:\s*(?:million|billion|thousand|[kmb]))?|{_COUNTS})\s+(?P<np>.+)",
    re.I,
)


def figure_terms(question: str) -> list[str] | None:
    """What a sentence must name next to a figure to answer a quantity question (None: not one).

    Wider than `quantity_focus`, which steers sentence scoring: every content word of the asked-for
    noun phrase ("how many small proxy models" -> small, proxi, model), up to the verb or preposition.
    """
    if asks_paper(question):
        return None  # "which paper shows X scales with how often..." asks for a paper, not a figure
    m = _HOW.search(question)
    if m:
        rest, of = m["rest"], _OF_THE.match(m["rest"]) if HOW_MANY_OF else None
        if of:  # "how many of the ten datasets used to…": the part is asked about, not the whole
            rest = of["np"]
        words = []
        for w in rest.split():
            if w.lower() in _STOP_FOCUS or (of and w.lower().endswith("ed")):
                break
            words.append(w)
        return content_stems(" ".join(words))
    return quantity_focus(question)


# Figures the question itself states ("the 1.3B model", "of the ten datasets", "ImageNet-1K") are its
# conditions, not the answer: a sentence repeating them does not state the asked-for figure.
FIGURE_NOT_GIVEN = False
# How many words may separate the figure from the asked-for term (0: anywhere in the sentence).
FIGURE_WINDOW = 0
_FIGURE = re.compile(rf"\d+(?:[.,]\d+)*|{_NUMBER_WORDS.pattern}", re.I)


def _figure_value(match: str) -> str:
    return match.lower().replace(",", "")


def given_figures(question: str) -> frozenset[str]:
    """The figures a question states itself (see FIGURE_NOT_GIVEN)."""
    return frozenset(_figure_value(m.group()) for m in _FIGURE.finditer(question)) if FIGURE_NOT_GIVEN else frozenset()


# Digits inside a name are not figures: "ResNet-50", "GPT-4", "T5", "ImageNet-1K", "top-1", "3D"; a
# unit after the digits still makes one ("7B", "4K", "3.6x", "1st").
NAME_DIGITS_NOT_FIGURES = False
_LETTER_BEFORE = re.compile(r"[A-Za-z]-?$")  # "GPT-4", "T5": the digits end a name
_UNIT = re.compile(r"(?:[kKMBTxX×G]|GB|MB|TB|ms|s|h|px|bits?|st|nd|rd|th)\b")


def _is_figure(word: str, m: re.Match, given: frozenset[str]) -> bool:
    if _figure_value(m.group()) in given:
        return False
    if not NAME_DIGITS_NOT_FIGURES or not m.group()[0].isdigit():
        return True
    before, after = word[: m.start()], word[m.end() :]
    if _LETTER_BEFORE.search(before):
        return False
    return not (after[:1].isalpha() and not _UNIT.match(after))


def states_figure(terms: list[str], sentence: str, given: frozenset[str] = frozenset()) -> bool:
    """A figure (digits, a number word, a percentage) in a sentence that names one of `terms` (or any
    figure when `terms` is empty); figures in `given` (the question's own) do not count."""
    words = sentence.split()
    at = [i for i, w in enumerate(words) if any(_is_figure(w, m, given) for m in _FIGURE.finditer(w))]
    if not at:
        return False
    if not terms:
        return True
    if "%" in sentence and any(t in _SHARE for t in terms):
        return True
    wanted = set(terms)
    near = [i for i, w in enumerate(words) if wanted.intersection(content_stems(w))]
    if not near:
        return False
    return not FIGURE_WINDOW or any(abs(i - j) <= FIGURE_WINDOW for i in near for j in at)


# Counts written as words ("six challenging NLP problems", "ten diverse model architectures"); not
# "one", "half", "twice": those read as ordinary words far more often than as answers.
_COUNT_WORDS = re.compile(rf"\b(?:{_COUNTS}|hundreds|thousands|millions|billions|dozens)\b", re.I)


def answers_quantity(focus: list[str], sentence: str) -> bool:
    """A figure (digits or a count in words) in a sentence that names every stem of `focus`."""
    if not (_DIGIT.search(sentence) or _COUNT_WORDS.search(sentence)):
        return False
    stems = set(content_stems(sentence))
    return all(f in stems for f in focus)


TOKEN = re.compile(r"(?<![\w-])[A-Za-z0-9]+(?:[-/][A-Za-z0-9]+)*(?![\w-])")


def name_like(word: str) -> bool:
    """QM9, BraTS, MEMIT, ETTh1, 256x256 — but not seq2seq or top1 (lower-case compounds are vocabulary)."""
    core = word.replace("-", "").replace("/", "")
    capitals = sum(c.isupper() for c in core)
    mixed = any(c.isdigit() for c in core) and any(c.isalpha() for c in core)
    return len(core) >= 2 and (
        capitals >= 2 or any(c.isupper() for c in core[1:]) or (mixed and (capitals or core[0].isdigit()))
    )


def names_in(question: str) -> list[str]:
    """Specific names in a question by their spelling; "LLM-based" gives LLM, "GPUs" gives GPU.

    Names in parentheses are skipped: "feed-forward (MLP) sublayers" glosses the words before it,
    which carry the meaning, and an abstract may use either.
    """
    question = re.sub(r"\([^()]*\)", " ", question)
    out: list[str] = []
    for m in TOKEN.finditer(question):
        word = m.group()
        parts = re.split(r"[-/]", word)
        if len(parts) > 1 and any(name_like(p) for p in parts):
            out += [p for p in parts if name_like(p)]
        elif name_like(word):
            out.append(word)
    return [w[:-1] if w.endswith("s") and w[:-1].isupper() else w for w in out]


def squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def name_share(name: str, df: dict[str, int], n_docs: int) -> float:
    """Roughly the fraction of the corpus's chunks that mention a name: the document frequency of its
    stem in the published view (no per-question pass over the corpus). A name that is no single word
    of the index ("Path-X": only "path" is indexed) counts as rare."""
    stems = content_stems(name)
    if len(stems) != 1 or len(re.split(r"[-/]", name)) != 1:
        return 0.0
    return df.get(stems[0], 0) / max(n_docs, 1)


def rare_names(question: str, df: dict[str, int], n_docs: int, max_share: float) -> list[str]:
    """The question's names (`names_in`, each once) mentioned in at most `max_share` of the chunks."""
    return [n for n in dict.fromkeys(names_in(question)) if name_share(n, df, n_docs) <= max_share]


# Two- and three-letter acronyms ("CNN", "API", "FAQ") name general things an abstract may spell out
# ("convolutional neural network"), like the corpus-common ones; specific names are longer or mix
# case and digits (QM9, BraTS, MEMIT, GPTQ). On the three tuning sets: 2 fewer false abstentions, the
# one unanswerable question it lets through ("MRI") still abstains on weak evidence.
SHORT_ACRONYMS_SPELLED_OUT = True
_SHORT_ACRONYM = re.compile(r"[A-Z]{2,3}")


def missing_names(question: str, texts: list[str], df: dict[str, int], n_docs: int, max_share: float) -> list[str]:
    """The question's names that occur in none of `texts`, among those mentioned in at most
    `max_share` of the corpus's chunks.

    Spelling differences are forgiven: "Path-X", "Path X" and "PathX" match; a name inside a longer
    word also matches (the lenient side: it can only keep an answer, never abstain wrongly).
    """
    seen = squash(" ".join(texts))
    return [
        n
        for n in rare_names(question, df, n_docs, max_share)
        if squash(n) not in seen and not (SHORT_ACRONYMS_SPELLED_OUT and _SHORT_ACRONYM.fullmatch(n))
    ]


def papers_named(question: str, passages: list, df: dict[str, int], n_docs: int, max_share: float) -> list[int]:
    """Indexes of the passages that mention a rare name of the question ("Arctic-Embed", "RemoteCLIP")."""
    names = [squash(n) for n in rare_names(question, df, n_docs, max_share)]
    if not names:
        return []
    return [i for i, p in enumerate(passages) if any(n in squash(f"{p.title} {p.text}") for n in names)]


def idf(word: str, df: dict[str, int], n_docs: int) -> float:
    """Inverse document frequency of a stemmed word over the published view's chunks."""
    return math.log((n_docs + 1) / (df.get(word, 0) + 0.5))


def idf_coverage(question: str, passage_text: str, df: dict[str, int], n_docs: int) -> tuple[float, float]:
    """(IDF mass of question words found in the passage, IDF mass of words unseen in the corpus)."""
    words = set(content_stems(question))
    if not words:
        return 0.0, 0.0
    total = sum(idf(w, df, n_docs) for w in words)
    have = set(content_stems(passage_text))
    covered = sum(idf(w, df, n_docs) for w in words if w in have) / total
    unseen = sum(idf(w, df, n_docs) for w in words if w not in df) / total
    return covered, unseen


def evidence(best_cosine: float, coverage: float, unseen: float) -> float:
    return best_cosine + COVERAGE_WEIGHT * coverage - UNSEEN_WEIGHT * unseen
