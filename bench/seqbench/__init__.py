"""The CONFIG-A benchmark suite behind ``nox -s bench`` (entry point: ``bench/run_bench.py``)."""
