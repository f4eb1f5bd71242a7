"""Calculus on expressions: derivative rules, accumulation, simplification, Taylor."""
