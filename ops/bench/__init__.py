"""Benchmarks that print JSON; numbers are ratios to a baseline measured in the same run."""
