"""What the tests and the benchmarks share, so that neither imports the other: event factories
(`factories`: recorded enrolment events as the store and the relay write them) and the
reliability harness (`reliability`: the whole platform under faults, short in CI through
tests/reliability/test_faults.py, long with a soak through bench/bench_reliability.py).
Development only: nothing of the runtime imports it."""
