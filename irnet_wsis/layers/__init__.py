"""Pixel pairs within a radius (and the paths between them)."""
from .pixel_pairs import PixelPairs
