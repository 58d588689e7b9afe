"""Test suites that every implementation of one interface must pass (each implementation's test
module subclasses the suite and supplies the implementation as a fixture)."""
