"""matgrad's benchmark suite: workloads W1–W8 of BENCHMARKS.md.

Run ``python -m benchmarks.run`` (``--full`` for the full sizes, ``--only W3`` to
pick workloads); see ``docs/performance.md`` for the results and how to read them.
"""
