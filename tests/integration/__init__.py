"""Integration tests: the real sluice binary on 127.0.0.1, driven over HTTP."""
