#!/usr/bin/env python3
"""Validate eval/gold.jsonl against the bundled abstract corpus.

Standalone, stdlib only.  Usage:
    python3 eval/check_gold.py [--gold PATH] [--corpus DIR]

Checks:
  * every line is a JSON object with the expected fields and types
  * ids are unique (and look like g001, g002, ...)
  * type is one of fact / which-paper / multi-paper / paraphrase / unanswerable
  * every gold title matches exactly one corpus title (after whitespace
    normalisation); the same paper may appear in several corpus files, but
    all of its occurrences must carry the same abstract
  * every must_include string occurs (case-insensitive) in at least one of
    the item's gold abstracts
  * unanswerable items have answerable=false and empty gold_titles /
    must_include / answer; answerable items have the opposite
Exits 1 and lists the problems if anything fails; otherwise prints counts per
type and the number of distinct gold papers.
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
DEFAULT_CORPUS = "/work/shared/corpus"

TYPES = {"fact", "which-paper", "multi-paper", "paraphrase", "unanswerable"}
FIELDS = {"id": str, "question": str, "type": str, "gold_titles": list,
          "answer": str, "must_include": list, "answerable": bool}

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gold", default=DEFAULT_GOLD)
    ap.add_argument("--corpus", default=DEFAULT_CORPUS)
    args = ap.parse_args()

    by_title, n_entries, files, problems = load_corpus(args.corpus)
    print("corpus: %d files, %d entries, %d unique titles"
          % (len(files), n_entries, len(by_title)))

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

    items = []
    with open(args.gold, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
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
    type_counts = Counter()
    gold_papers = set()
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
        extra = set(it) - set(FIELDS)
        if extra:
            problems.append(f"{where}: unexpected fields {sorted(extra)}")
        if bad:
            continue
        seen_ids[it["id"]] += 1
        if not re.fullmatch(r"g\d{3,}", it["id"]):
            problems.append(f"{where}: id does not look like g001")
        if not it["question"].strip():
            problems.append(f"{where}: empty question")
        typ = it["type"]
        if typ not in TYPES:
            problems.append(f"{where}: invalid type {typ!r}")
            continue
        type_counts[typ] += 1
        gold, must, answer = it["gold_titles"], it["must_include"], it["answer"]

        if typ == "unanswerable":
            if it["answerable"]:
                problems.append(f"{where}: unanswerable item marked answerable")
            if gold:
                problems.append(f"{where}: unanswerable item has gold titles")
            if must:
                problems.append(f"{where}: unanswerable item has must_include")
            if answer:
                problems.append(f"{where}: unanswerable item has an answer")
            continue

        if not it["answerable"]:
            problems.append(f"{where}: {typ} item marked not answerable")
        if not gold:
            problems.append(f"{where}: answerable item has no gold titles")
        if not answer.strip():
            problems.append(f"{where}: answerable item has empty answer")
        if not 1 <= len(must) <= 3:
            problems.append("%s: must_include should have 1-3 strings, has %d"
                            % (where, len(must)))
        if typ == "multi-paper" and not 2 <= len(gold) <= 4:
            problems.append(f"{where}: multi-paper item should have 2-4 gold titles")
        if typ != "multi-paper" and len(gold) != 1:
            problems.append(f"{where}: {typ} item should have exactly 1 gold title")
        if len(set(map(norm, gold))) != len(gold):
            problems.append(f"{where}: duplicate gold titles")

        gold_abstracts = []
        for t in gold:
            if not isinstance(t, str):
                problems.append(f"{where}: gold title is not a string")
                continue
            nt = norm(t)
            if nt in by_title:
                gold_abstracts.append(abstract_of[nt])
                gold_papers.add(nt)
            else:
                near = lower_titles.get(nt.lower())
                hint = f" (case differs from {near[0]!r})" if near else ""
                problems.append(f"{where}: gold title not found in corpus: {t!r}{hint}")
            if len(lower_titles.get(nt.lower(), [])) > 1:
                problems.append(f"{where}: gold title is ambiguous (case variants): {t!r}")
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

    # Coverage summary (informational).
    file_cov = Counter()
    for t in gold_papers:
        for f in {f for f, _ in by_title[t]}:
            file_cov[f] += 1

    print("items: %d" % len(items))
    for typ in ["fact", "which-paper", "multi-paper", "paraphrase",
                "unanswerable"]:
        print("  %-13s %d" % (typ, type_counts[typ]))
    print("distinct gold papers: %d" % len(gold_papers))
    print("gold papers per corpus file: " + ", ".join(
        "%s=%d" % (f[:3], file_cov[f]) for f in sorted(file_cov)))

    if problems:
        print("\n%d problem(s):" % len(problems))
        for p in problems:
            print("  - " + p)
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
