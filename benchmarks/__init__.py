"""Benchmarks (opencv_zoo style): one case per model, p50/p95 tables and plots committed."""
