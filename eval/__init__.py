"""Evaluation suite: gold-set runs over ask()/retrieve(), the checker's own test set, PubMedQA.

`rag eval` / `python -m eval` run it; see eval/cli.py for the options.
"""
