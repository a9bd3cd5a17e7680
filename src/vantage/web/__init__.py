"""The web UI: server-rendered pages, their static files and the bundled 3D viewer."""
