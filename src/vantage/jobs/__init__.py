"""Durable jobs: pipelines of stages, a catalog-backed queue with fenced leases, workers."""
