"""Benchmarks: `python -m bench [--smoke]` measures every stage on this machine in one run."""
