"""Workload generator (``python -m bench.seed``) and benchmark runner (``python -m bench.run``)."""
