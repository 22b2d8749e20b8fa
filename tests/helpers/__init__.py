"""Shared helpers for the Python test suites that drive the real sluice binary.

- server.py:   `Sluice`, one sluice process (start/stop/kill -9/restart, HTTP helpers).
- push.py:     push bodies (Loki JSON, protobuf+snappy, gzip/deflate) and timestamp formats.
- promtext.py: a strict parser for the Prometheus text exposition format.

The root tests/conftest.py puts tests/ on sys.path, so suites import these as `helpers.server`.
"""
