"""Reliability: the whole platform under faults. `huigong_testkit.reliability` (tools/testkit)
drives it; the short form is `test_faults.py` (in CI), the long form
`bench/bench_reliability.py` (with a soak)."""
