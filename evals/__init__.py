"""Sanad's evaluation: gold sets, metrics, the ``sanad eval`` runner and its CI gate.

- :mod:`evals.sets`: gold items (the seeds set, XQuAD, any gold JSONL) and their corpora;
- :mod:`evals.metrics`: pure metric functions over per-question rows;
- :mod:`evals.gate`: thresholds (``evals/thresholds.toml``) and the comparison against them;
- :mod:`evals.runner`: indexes a set's corpus into a temp dir, asks every question, reports.

See docs/evals.md for what each metric means and the current figures.
"""
