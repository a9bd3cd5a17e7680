"""Observability: Prometheus metrics, JSON logs with correlation ids, worker heartbeats."""
