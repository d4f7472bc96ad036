"""The speed benchmark's reference programs, one module per tool, each run as a whole process.

``benchmarks.speed`` starts them as ``python -m benchmarks.programs.<name> '<JSON parameters>'``
from the repository root and times them from outside; ``benchmarks.w1_seeds`` imports their
model and training functions. They import only the standard library at the top (see ``child``).
"""
