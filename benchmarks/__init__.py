"""tenantml benchmarks: run them all with ``make bench`` (benchmarks/run_all.py)."""
