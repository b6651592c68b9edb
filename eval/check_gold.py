#!/usr/bin/env python3
"""Validate an evaluation set (eval/gold.jsonl, eval/heldout.jsonl, eval/tune_near.jsonl) against the bundled corpus.

Standalone, stdlib only.  Usage:
    python3 eval/check_gold.py [--gold PATH] [--corpus DIR]

The corpus defaults to the repository's rag/data/abstracts (the same files as
/work/shared/corpus, checked byte for byte), so it works on a fresh clone.

Checks:
  * blank lines and lines starting with "#" (a header) are skipped
  * every other line is a JSON object with the expected fields and types
  * ids are unique, look like g001 / h001 / t001, and share one prefix per file
  * type is one of fact / which-paper / multi-paper / paraphrase / unanswerable
  * every gold title matches exactly one corpus title (after whitespace
    normalisation); the same paper may appear in several corpus files, but
    all of its occurrences must carry the same abstract
  * every must_include string occurs (case-insensitive) in at least one of
    the item's gold abstracts
  * unanswerable items have answerable=false and empty gold_titles /
    must_include / answer; answerable items have the opposite
  * the optional near_titles (the paper an unanswerable question is about)
    appears only on unanswerable items and every entry matches a corpus title
Exits 1 and lists the problems if anything fails; otherwise prints counts per
type and the number of distinct gold papers.  `validate()` returns the same
information for tests.
"""
import argparse
import glob
import json
import os
import re
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_GOLD = os.path.join(HERE, "gold.jsonl")
DEFAULT_CORPUS = os.path.normpath(os.path.join(HERE, "..", "rag", "data", "abstracts"))

TYPES = {"fact", "which-paper", "multi-paper", "paraphrase", "unanswerable"}
FIELDS = {"id": str, "question": str, "type": str, "gold_titles": list,
          "answer": str, "must_include": list, "answerable": bool}
OPTIONAL = {"near_titles": list}
ORDER = ["fact", "which-paper", "multi-paper", "paraphrase", "unanswerable"]

# Page chrome that appears at the top of the scraped listing pages.
CHROME = {
    "new",
    "Get trending papers in your email inbox!",
    "Get trending papers in your email inbox once a day!",
    "Subscribe",
    "Daily Papers",
    "byAK and the research community",
}
MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
# "Jan 20", "Sep 19, 2025 5", "Mar 2 2", "Aug 25, 2025"
DATE_RE = re.compile(rf"^{MONTH} \d{{1,2}}(?:, \d{{4}})?(?: \d+)?$")


def norm(s):
    return re.sub(r"\s+", " ", s).strip()


def is_meta(line):
    s = line.strip()
    return (not s or s in CHROME or s == "\u00b7" or s.startswith("\u2022")
            or bool(DATE_RE.match(s)))


def parse_file(path):
    """Return a list of (title, abstract) pairs for one corpus file.

    Both layouts reduce to the same thing once chrome / author / date lines
    are dropped: the remaining lines strictly alternate title, abstract.  In
    the compact layout the first title is glued to "Subscribe".
    """
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    content = []
    for line in lines:
        s = line.strip()
        if s.startswith("Subscribe") and s != "Subscribe":
            s = s[len("Subscribe"):]
        if is_meta(s):
            continue
        content.append(s)
    problems = []
    if len(content) % 2:
        problems.append("%s: odd number of content lines (%d); last line %r"
                        % (os.path.basename(path), len(content), content[-1][:80]))
    pairs = []
    for i in range(0, len(content) - 1, 2):
        title, abstract = norm(content[i]), norm(content[i + 1])
        # Titles are short, abstracts long; flag anything that breaks that.
        if len(title) > 300 or len(abstract) < 200:
            problems.append("%s: suspicious entry at content line %d: %r"
                            % (os.path.basename(path), i, title[:80]))
        pairs.append((title, abstract))
    return pairs, problems


def load_corpus(corpus_dir):
    files = sorted(glob.glob(os.path.join(corpus_dir, "*.txt")))
    if not files:
        sys.exit(f"no corpus files found in {corpus_dir}")
    by_title = defaultdict(list)        # norm title -> [(file, abstract)]
    problems = []
    n_entries = 0
    for path in files:
        pairs, probs = parse_file(path)
        problems.extend(probs)
        n_entries += len(pairs)
        for title, abstract in pairs:
            by_title[title].append((os.path.basename(path), abstract))
    return by_title, n_entries, files, problems


def is_comment(line):
    """Blank lines and '#' lines carry no item (a frozen set's header)."""
    s = line.strip()
    return not s or s.startswith("#")


def validate(gold_path, corpus_dir=DEFAULT_CORPUS):
    """Check one evaluation file; return a dict with counts, gold papers and the problems found."""
    by_title, n_entries, files, problems = load_corpus(corpus_dir)

    abstract_of = {}
    for title, occ in by_title.items():
        abstracts = {a for _, a in occ}
        if len(abstracts) > 1:
            problems.append("corpus: title %r has %d different abstracts"
                            % (title[:80], len(abstracts)))
        abstract_of[title] = occ[0][1]
    lower_titles = defaultdict(list)
    for title in by_title:
        lower_titles[title.lower()].append(title)

    def lookup(t, where, what):
        """Return the normalised corpus title for t, or None (and a problem)."""
        if not isinstance(t, str):
            problems.append(f"{where}: {what} is not a string")
            return None
        nt = norm(t)
        if len(lower_titles.get(nt.lower(), [])) > 1:
            problems.append(f"{where}: {what} is ambiguous (case variants): {t!r}")
        if nt in by_title:
            return nt
        near = lower_titles.get(nt.lower())
        hint = f" (case differs from {near[0]!r})" if near else ""
        problems.append(f"{where}: {what} not found in corpus: {t!r}{hint}")
        return None

    items = []
    with open(gold_path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if is_comment(line):
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append("line %d: invalid JSON (%s)" % (lineno, e))
                continue
            if not isinstance(obj, dict):
                problems.append("line %d: not a JSON object" % lineno)
                continue
            items.append((lineno, obj))

    seen_ids = Counter()
    prefixes = Counter()
    type_counts = Counter()
    gold_papers = set()
    near_papers = set()
    n_near_items = 0
    for lineno, it in items:
        where = "line %d (%s)" % (lineno, it.get("id", "?"))
        bad = False
        for field, typ in FIELDS.items():
            if field not in it:
                problems.append(f"{where}: missing field {field!r}")
                bad = True
            elif not isinstance(it[field], typ):
                problems.append(f"{where}: field {field!r} should be {typ.__name__}")
                bad = True
        for field, typ in OPTIONAL.items():
            if field in it and not isinstance(it[field], typ):
                problems.append(f"{where}: field {field!r} should be {typ.__name__}")
                bad = True
        extra = set(it) - set(FIELDS) - set(OPTIONAL)
        if extra:
            problems.append(f"{where}: unexpected fields {sorted(extra)}")
        if bad:
            continue
        seen_ids[it["id"]] += 1
        m = re.fullmatch(r"([ghtxkm])\d{3,}", it["id"])
        if not m:
            problems.append(f"{where}: id does not look like g001, h001, t001, x001, k001 or m001")
        else:
            prefixes[m.group(1)] += 1
        if not it["question"].strip():
            problems.append(f"{where}: empty question")
        typ = it["type"]
        if typ not in TYPES:
            problems.append(f"{where}: invalid type {typ!r}")
            continue
        type_counts[typ] += 1
        gold, must, answer = it["gold_titles"], it["must_include"], it["answer"]
        near_titles = it.get("near_titles", [])

        if typ == "unanswerable":
            if it["answerable"]:
                problems.append(f"{where}: unanswerable item marked answerable")
            if gold:
                problems.append(f"{where}: unanswerable item has gold titles")
            if must:
                problems.append(f"{where}: unanswerable item has must_include")
            if answer:
                problems.append(f"{where}: unanswerable item has an answer")
            if "near_titles" in it and not near_titles:
                problems.append(f"{where}: near_titles is empty (omit it instead)")
            if len(set(map(str, near_titles))) != len(near_titles):
                problems.append(f"{where}: duplicate near titles")
            for t in near_titles:
                nt = lookup(t, where, "near title")
                if nt:
                    near_papers.add(nt)
            n_near_items += bool(near_titles)
            continue

        if "near_titles" in it:
            problems.append(f"{where}: near_titles is only allowed on unanswerable items")
        if not it["answerable"]:
            problems.append(f"{where}: {typ} item marked not answerable")
        if not gold:
            problems.append(f"{where}: answerable item has no gold titles")
        if not answer.strip():
            problems.append(f"{where}: answerable item has empty answer")
        most = 4 if typ == "multi-paper" else 3  # one name per paper, up to four papers
        if not 1 <= len(must) <= most:
            problems.append(f"{where}: must_include should have 1-{most} strings, has {len(must)}")
        if typ == "multi-paper" and not 2 <= len(gold) <= 4:
            problems.append(f"{where}: multi-paper item should have 2-4 gold titles")
        if typ != "multi-paper" and len(gold) != 1:
            problems.append(f"{where}: {typ} item should have exactly 1 gold title")
        if len(set(norm(t) for t in gold if isinstance(t, str))) != len(gold):
            problems.append(f"{where}: duplicate gold titles")

        gold_abstracts = []
        for t in gold:
            nt = lookup(t, where, "gold title")
            if nt:
                gold_abstracts.append(abstract_of[nt])
                gold_papers.add(nt)
        for s in must:
            if not isinstance(s, str) or not s.strip():
                problems.append(f"{where}: empty/non-string must_include")
                continue
            needle = norm(s).lower()
            if gold_abstracts and not any(needle in a.lower()
                                          for a in gold_abstracts):
                problems.append(f"{where}: must_include {s!r} not in any gold abstract")

    for id_, n in seen_ids.items():
        if n > 1:
            problems.append("id %s used %d times" % (id_, n))
    if len(prefixes) > 1:
        problems.append("ids mix prefixes %s; use one per file" % sorted(prefixes))

    # Coverage summary (informational).
    file_cov = Counter()
    for t in gold_papers:
        for f in {f for f, _ in by_title[t]}:
            file_cov[f] += 1

    return {
        "files": len(files), "entries": n_entries, "titles": len(by_title),
        "items": len(items), "types": dict(type_counts),
        "gold_papers": sorted(gold_papers), "near_papers": sorted(near_papers),
        "near_items": n_near_items, "file_coverage": dict(file_cov),
        "problems": problems,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gold", default=DEFAULT_GOLD)
    ap.add_argument("--corpus", default=DEFAULT_CORPUS)
    args = ap.parse_args()

    rep = validate(args.gold, args.corpus)
    print("corpus: %d files, %d entries, %d unique titles"
          % (rep["files"], rep["entries"], rep["titles"]))
    print("items: %d" % rep["items"])
    for typ in ORDER:
        print("  %-13s %d" % (typ, rep["types"].get(typ, 0)))
    print("distinct gold papers: %d" % len(rep["gold_papers"]))
    print("unanswerable items with near_titles: %d (%d distinct papers)"
          % (rep["near_items"], len(rep["near_papers"])))
    cov = rep["file_coverage"]
    print("gold papers per corpus file: " + ", ".join(
        "%s=%d" % (f[:3], cov[f]) for f in sorted(cov)))

    problems = rep["problems"]
    if problems:
        print("\n%d problem(s):" % len(problems))
        for p in problems:
            print("  - " + p)
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
