"""Integration tests of the HTTP API against a live uvicorn server."""
