"""Compressed, web-ready scenes: SOG, SPZ and compressed PLY codecs, and size reductions."""
