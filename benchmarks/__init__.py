"""Benchmarks of mlcommons_emu: every figure is a ratio against a baseline measured in the same run.

``python -m benchmarks [--quick] [NAME ...]`` runs them, prints a table and writes
``benchmarks/results/latest.json``. Each module has ``run(quick: bool) -> dict``.
Targets are recorded next to the ratios, never asserted. See docs/performance.md.
"""
from __future__ import annotations

BENCHMARKS = ("cold_start", "fixture_cost", "predict_inprocess", "http_throughput", "register_deploy", "isolation",
              "search", "scale", "memory")
