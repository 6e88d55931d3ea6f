"""Pixel pairs within a radius (and the paths between them); ROIAlign with a fast CPU backward."""
from .pixel_pairs import PixelPairs
from .roi_align import SeparableROIAlign, separable_roi_align, use_separable_roi_align
