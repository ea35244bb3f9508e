"""Metrics, health checks, logs and trace ids shared by every Parley process (both envs).

``trace`` (the message's trace id), ``logs`` (masking + JSON), ``metrics`` (Prometheus names,
scrape), ``health`` (readiness checks) are framework-free; ``http`` is the thin Sanic adapter.
See observability/README.md.
"""
