"""Benchmarks: `python -m bench ocr|embed|search|incremental|all`. They print figures and
ratios against the raw tools measured in the same run; they are not tests."""
