"""``strata bench``: workloads, a measuring runner and its report (docs/benchmarks.md).

Nothing here is public API: the command line (:mod:`kvengine.bench.cli`) is the interface.
"""
