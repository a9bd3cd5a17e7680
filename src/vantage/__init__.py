"""Vantage: captured visual media into 3D scenes, an organised library and live camera events.

Importing this package does nothing but define the version: no settings are read, no heavy
library (torch, cv2, pycolmap) is imported.
"""

__version__ = "0.1.0"
