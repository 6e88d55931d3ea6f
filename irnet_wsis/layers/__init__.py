"""Pixel pairs within a radius (and the paths between them), connected regions."""
from .pixel_pairs import PixelPairs
from .regions import label_regions
