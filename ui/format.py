"""Pure helpers that turn API results into chat Markdown and source-card HTML (no Gradio here).

Only the app's own markup may be live. Corpus and answer text goes through `escape_md`, which writes
every character Markdown (GFM, as Gradio's chat renders it), HTML or LaTeX could read as structure
as a numeric character reference (`[` -> `&#91;`): CommonMark never treats a reference as syntax, it
renders as the character, and it works the same inside the app's HTML wrappers (`<div>` blocks, where
backslash escapes would show). Bare URLs lose their `:`/`www.`/`@` so GFM cannot autolink them.
Then the app re-creates its own markup from the escaped text: answer titles set in bold, and
citation markers as links to `#cite-<turn>-<n>` cards, unique per turn so an older answer's [1]
still points at its own source.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from rag.conversation import split_context
from rag.lexical import content_stems
from rag.models import Answer, Citation, Passage, SentenceCheck
from rag.sanitize import printable
from rag.text import split_sentences
from rag.verify import strip_markers

HIGHLIGHT_MIN_OVERLAP = 0.5
# Characters Markdown, GFM, HTML or Gradio's LaTeX/mermaid passes can read as structure, as references.
_ENTITIES = {c: f"&#{ord(c)};" for c in "\\`*_~[]()!<>&$|#:@{}^"}
_LINE_START = re.compile(r"^([ \t]*)([-+=]|\d+)", re.MULTILINE)  # list items, setext underlines
_WWW = re.compile(r"(?<=www)\.", re.IGNORECASE)  # GFM autolinks www.example.org without a scheme
_TABLE = str.maketrans(_ENTITIES)
_ATTR_TABLE = str.maketrans({**_ENTITIES, '"': "&quot;", "'": "&#39;"})
# Citation markers as they look after escaping: [1] or [1, 2].
MARKER = re.compile(r"&#91;(\d{1,4}(?:\s*,\s*\d{1,4})*)&#93;")  # bounded: int() of 5000 digits raises


def anchor_id(turn: int, number: int) -> str:
    """DOM id of source card `number` of answer `turn`."""
    return f"cite-{turn}-{number}"


def escape_md(text: str) -> str:
    """Corpus or answer text as Markdown that renders literally: no link, image, HTML, list or math."""
    escaped = printable(text).translate(_TABLE)
    escaped = _WWW.sub("&#46;", escaped)
    return _LINE_START.sub(lambda m: m[1] + "".join(f"&#{ord(c)};" for c in m[2]), escaped)


def escape_html(text: str) -> str:
    """Corpus text for the sources panel (plain HTML, no Markdown): escaped, without controls or surrogates
    (Gradio serialises updates with orjson, which refuses a lone surrogate and drops the whole update)."""
    return html.escape(printable(text))


def escape_attr(text: str) -> str:
    """Corpus text for a quoted HTML attribute (a tooltip): one line, references only."""
    return " ".join(printable(text).split()).translate(_ATTR_TABLE)


# The extractive answerer opens each paragraph with "**Title** [n] — "; only that is made bold again.
_ESCAPED_TITLE = re.compile(r"\A&#42;&#42;(.+?)&#42;&#42;(?=\s*&#91;\d+&#93;)", re.DOTALL)


def bold_titles(escaped: str) -> str:
    """After escaping, bold the paper title that opens an answer paragraph; `**x**` elsewhere
    (inside a quoted abstract, in generated text) stays as written."""
    return _ESCAPED_TITLE.sub(r"<strong>\1</strong>", escaped)


def link_citations(escaped: str, turn: int, valid: set[int] | None = None) -> str:
    """Replace [n] / [n, m] markers in `escape_md` output by links to the turn's source cards.

    Numbers outside `valid` stay plain (escaped) text: a link to a card that doesn't exist would mislead.
    """

    def sub(m: re.Match) -> str:
        links = []
        for part in m.group(1).split(","):
            n = int(part)
            shown = f"&#91;{n}&#93;"
            if valid is not None and n not in valid:
                links.append(shown)
            else:
                links.append(f'<a class="rag-cite" href="#{anchor_id(turn, n)}">{shown}</a>')
        return "".join(links)

    return MARKER.sub(sub, escaped)


def _sentence_title(check: SentenceCheck) -> str:
    cites = ", ".join(f"[{n}]" for n in check.citations)
    return f"Verified: {check.support:.0%} of its content words appear in {cites}"


def _render_paragraph(para: str, checks: list[SentenceCheck], turn: int, valid: set[int]) -> str:
    """Wrap each verified sentence in a span whose tooltip gives its support; plain if they don't tile."""
    out, rest = [], para
    for check in checks:
        idx = rest.find(check.text)
        if idx < 0:
            break
        if rest[:idx].strip():
            break
        escaped = escape_md(check.text)
        body = link_citations(escaped if out else bold_titles(escaped), turn, valid)  # title opens the paragraph
        out.append(f'<span class="rag-sent" title="{html.escape(_sentence_title(check))}">{body}</span>')
        rest = rest[idx + len(check.text) :]
    if rest.strip() or not out:
        return link_citations(bold_titles(escape_md(para)), turn, valid)
    return " ".join(out)


def format_streaming(text: str) -> str:
    """Text still being generated: shown as is, marked as not yet verified (numbers may change)."""
    body = escape_md(text.strip()) or "…"
    note = "writing… citations are checked once the answer is complete"
    return f'{body}\n\n<span class="rag-note">{note}</span>'


SEARCHING = '<span class="rag-note">Searching the abstracts…</span>'
SEARCHING_DONE = '<span class="rag-note">Papers found (see Sources): reading them…</span>'


def format_in_progress(preview: Answer | None, turn: int, generated: str) -> str:
    """While a generated answer is written: the extractive preview (marked), then the raw stream."""
    parts = []
    if preview is not None:
        parts.append(
            '<div class="rag-preview"><span class="rag-note">Preview: sentences quoted from the abstracts, '
            "while the generated answer is written</span>\n\n"
            + format_answer(preview, turn, with_note=False)
            + "</div>"
        )
    if generated.strip() or preview is None:
        parts.append(format_streaming(generated))
    return "\n\n".join(parts)


def format_answer(answer: Answer, turn: int, asked: str | None = None, *, with_note: bool = True) -> str:
    """The chat Markdown for a final answer: linked citations, abstention notice, verification note."""
    parts: list[str] = []
    if asked is not None and " ".join(asked.split()) != answer.question:
        parts.append(condensed_note(answer.question))
    if answer.abstained:
        n = len(answer.sources)
        closest = f" The {n} closest papers are listed under Sources." if n else ""
        if answer.check_reply is not None:  # withheld on the model's own few-word answer
            from rag.llm.check import says_not_stated

            said = says_not_stated(answer.check_reply)
            why = (
                "Asked to answer from the closest abstract, the local model replied "
                f"“{escape_md(answer.check_reply)}”" + ("." if said else ", which that abstract does not support.")
            )
        elif answer.check is not None:
            why = f"The local model read the closest passages and found no answer in them (P {answer.check:.2f})."
        else:
            why = f"No retrieved passage supports an answer (evidence {answer.confidence:.2f})."
        parts.append(f'<div class="rag-abstain"><strong>Not answered by these abstracts.</strong> {why}{closest}</div>')
        if answer.check is not None and answer.draft:  # what the check withheld, for the reader to judge
            parts.append(
                "<details><summary>Quotes the check withheld</summary>\n\n"
                f"{escape_md(answer.draft)}\n\n</details>"
            )
        return "\n\n".join(parts)
    valid = {c.number for c in answer.citations}
    checks = list(answer.sentences)
    paragraphs = [p for p in re.split(r"\n\s*\n", answer.text.strip()) if p.strip()]
    for para in paragraphs:
        mine = [c for c in checks if c.text in para]
        parts.append(_render_paragraph(para, mine, turn, valid))
    if with_note:
        parts.extend(f'<div class="rag-notice">{escape_md(n)}</div>' for n in answer.notices)
        parts.append(verification_note(answer))
    return "\n\n".join(parts)


def condensed_note(standalone: str) -> str:
    """Say how a follow-up was searched, briefly; the full standalone question is in the tooltip."""
    _, topic, titles = split_context(standalone)
    bits = []
    if topic:
        bits.append(f"“{escape_md(topic)}”")
    if titles:
        bits.append(f"the {len(titles)} paper{'s' if len(titles) != 1 else ''} cited above")
    detail = " and ".join(bits) or "the previous question"
    tip = escape_attr(f"Searched as: {standalone}")
    return f'<span class="rag-note" title="{tip}">↪ Follow-up: searched together with {detail}</span>'


def verification_note(answer: Answer) -> str:
    kept, dropped = len(answer.sentences), len(answer.removed)
    note = f"✓ {kept} sentence{'s' if kept != 1 else ''} checked against the cited abstracts"
    if dropped:
        note += f" · {dropped} unsupported sentence{'s' if dropped != 1 else ''} removed (listed below)"
    return f'<span class="rag-note">{note} · {escape_md(answer.mode)}</span>'


def format_removed(removed: list[SentenceCheck]) -> str:
    """Sentences the verifier dropped, struck through, with the reasons."""
    lines = []
    for check in removed:
        why = "; ".join(check.reasons) or "unsupported"
        lines.append(f"- ~~{escape_md(strip_markers(check.text))}~~ — *{escape_md(why)}*")
    return "\n".join(lines)


def removed_title(removed: list[SentenceCheck]) -> str:
    n = len(removed)
    return f"Verifier removed {n} unsupported sentence{'s' if n != 1 else ''}"


def format_error(exc: BaseException) -> str:
    """One line, no traceback: RagError messages already say what to do."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f'<div class="rag-error"><strong>Error:</strong> {escape_md(first)}</div>'


# -- source cards --------------------------------------------------------------------------------


def highlight_sentences(passage: str, citing: list[str]) -> list[tuple[str, bool]]:
    """Split a passage into sentences, flagging those the answer quotes or paraphrases.

    A passage sentence is highlighted when it occurs in a citing sentence (extractive answers
    quote verbatim), else the passage sentence sharing most content words with each citing
    sentence is, if it covers at least half of that sentence's words (generated answers).
    """
    sentences = split_sentences(passage) or ([passage] if passage.strip() else [])
    flags = [False] * len(sentences)
    bodies = [" ".join(s.split()).rstrip(".!?").strip() for s in sentences]
    stems = [set(content_stems(s)) for s in sentences]
    for raw in citing:
        claim = " ".join(strip_markers(raw).split())
        exact = [i for i, body in enumerate(bodies) if body and body in claim]
        for i in exact:
            flags[i] = True
        words = set(content_stems(claim))
        if exact or not words:
            continue
        overlaps = [len(words & st) / len(words) for st in stems]
        if overlaps and max(overlaps) >= HIGHLIGHT_MIN_OVERLAP:
            flags[overlaps.index(max(overlaps))] = True
    return list(zip(sentences, flags, strict=True))


def render_passage(passage: str, citing: list[str]) -> str:
    parts = []
    for sentence, hit in highlight_sentences(passage, citing):
        text = escape_html(sentence)
        parts.append(f"<mark>{text}</mark>" if hit else text)
    return " ".join(parts)


def _meta_line(p: Passage | None) -> str:
    if p is None:
        return ""
    md = p.metadata or {}
    bits = []
    when = md.get("date") or md.get("date_text")
    bits.append(escape_html(str(when)) if when else "date unknown")
    files = md.get("sources") or []
    if files:
        bits.append("from " + ", ".join(f"<code>{escape_html(f)}</code>" for f in files))
    return '<div class="rag-meta">' + " · ".join(bits) + "</div>"


def _year(p: Passage) -> str:
    when = (p.metadata or {}).get("date") or ""
    return f' <span class="rag-meta">({escape_html(str(when)[:4])})</span>' if when else ""


def _passage_for(citation: Citation, sources: list[Passage]) -> Passage | None:
    for p in sources:
        if p.paper_id == citation.paper_id and p.text == citation.passage:
            return p
    return next((p for p in sources if p.paper_id == citation.paper_id), None)


def citing_sentences(answer: Answer, number: int) -> list[str]:
    return [s.text for s in answer.sentences if number in s.citations]


def render_card(answer: Answer, citation: Citation, turn: int) -> str:
    passage = _passage_for(citation, answer.sources)
    body = render_passage(citation.passage, citing_sentences(answer, citation.number))
    return (
        f'<div class="rag-card" id="{anchor_id(turn, citation.number)}">'
        f'<div class="rag-card-head"><span class="rag-num">[{citation.number}]</span> '
        f'<span class="rag-title">{escape_html(citation.title)}</span></div>'
        f"{_meta_line(passage)}"
        f'<p class="rag-passage">{body}</p></div>'
    )


def render_uncited(passages: list[Passage], heading: str) -> str:
    if not passages:
        return ""
    items = []
    for p in passages:
        items.append(
            f'<li><details><summary><span class="rag-title">{escape_html(p.title)}</span>{_year(p)}</summary>'
            f'{_meta_line(p)}<p class="rag-passage">{escape_html(p.text)}</p></details></li>'
        )
    return f'<div class="rag-uncited"><div class="rag-subhead">{heading}</div><ul>{"".join(items)}</ul></div>'


def render_turn(answer: Answer, turn: int) -> str:
    """Cited cards first (in citation order), then the retrieved passages the answer didn't cite."""
    cited_ids = {(c.paper_id, c.passage) for c in answer.citations}
    uncited = [p for p in answer.sources if (p.paper_id, p.text) not in cited_ids]
    cards = "".join(render_card(answer, c, turn) for c in answer.citations)
    heading = (
        f"Closest papers ({len(uncited)}), none of which answers the question"
        if answer.abstained
        else f"Also retrieved, not cited ({len(uncited)})"
    )
    return cards + render_uncited(uncited, heading)


def render_retrieved(turns: Sequence[tuple[str, Answer]], passages: list[Passage], asked: str) -> str:
    """The sources panel as soon as retrieval is done: the papers found, above the earlier turns."""
    found = render_uncited(passages, f"Papers found ({len(passages)}), being read now") or (
        '<div class="rag-uncited">No papers found.</div>'
    )
    current = f'<div class="rag-turn"><div class="rag-q">Sources for “{html.escape(asked)}”</div>{found}</div>'
    older = render_sources(turns)
    if not turns:
        return f'<div class="rag-sources">{current}</div>'
    return older.replace('<div class="rag-sources">', f'<div class="rag-sources">{current}', 1)


EMPTY_SOURCES = (
    '<div class="rag-sources rag-empty">Sources appear here: each cited paper with its date, source file '
    "and passage, the sentences the answer relies on highlighted.</div>"
)


def render_sources(turns: Sequence[tuple[str, Answer]]) -> str:
    """The latest answer's sources open; earlier answers' folded below so their links still work.

    `turns` are (question as typed, answer) pairs, oldest first; a turn's index is its anchor number.
    """
    if not turns:
        return EMPTY_SOURCES
    blocks = []
    last = len(turns) - 1
    for turn in range(last, -1, -1):
        asked, answer = turns[turn]
        question = escape_html(asked or answer.question)
        if turn == last:
            blocks.append(f'<div class="rag-turn"><div class="rag-q">Sources for “{question}”</div>'
                          f"{render_turn(answer, turn)}</div>")
        else:
            blocks.append(f'<details class="rag-turn rag-older"><summary>Earlier: “{question}”</summary>'
                          f"{render_turn(answer, turn)}</details>")
    return '<div class="rag-sources">' + "".join(blocks) + "</div>"
