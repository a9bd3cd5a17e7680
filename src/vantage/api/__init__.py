"""The HTTP API: jobs, event streams, health and metrics, built by `create_app`."""
