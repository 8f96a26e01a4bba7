"""The statistics behind the face-stage cost claim (benchmarks/bench_face_stage.py)."""

from __future__ import annotations

import math

from benchmarks.bench_face_stage import median_interval, sign_test_p


def test_median_interval_uses_exact_binomial_order_statistics() -> None:
    # n = 9: [x(2), x(8)] covers the median with 1 - 2 * (1 + 9) / 512 = 96.1 %.
    low, high, coverage = median_interval([float(v) for v in (9, 1, 8, 2, 7, 3, 6, 4, 5)])
    assert (low, high) == (2.0, 8.0)
    assert math.isclose(coverage, 1 - 20 / 512)
    # n = 7: only the full range reaches 95 % (98.4 %).
    low, high, coverage = median_interval([0.9, 1.1, 0.8, 1.0, 0.95, 0.85, 1.05])
    assert (low, high) == (0.8, 1.1)
    assert math.isclose(coverage, 1 - 2 / 128)


def test_median_interval_with_too_few_rounds_says_so() -> None:
    low, high, coverage = median_interval([1.2, 0.8])
    assert (low, high) == (0.8, 1.2)
    assert coverage < 0.95
    assert math.isnan(median_interval([])[0])


def test_sign_test_p_value() -> None:
    assert math.isclose(sign_test_p([0.9] * 9), 1 / 512)  # all nine rounds below 1
    assert math.isclose(sign_test_p([0.9] * 7 + [1.1] * 2), (1 + 9 + 36) / 512)
    assert sign_test_p([1.0, 1.0]) == 1.0  # ties carry no evidence
    assert sign_test_p([1.1] * 5) == 1.0
