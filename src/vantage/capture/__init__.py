"""Capture: photos or a video → keyframes → COLMAP model → trained 3D Gaussian splats."""
