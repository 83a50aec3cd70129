"""Suites and dataset loaders: BFCL data, the regression set and the gate (no generation code)."""
