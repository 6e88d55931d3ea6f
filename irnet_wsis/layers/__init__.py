"""Pixel pairs within a radius (and the paths between them); ROIAlign with a fast CPU backward; frozen norms
folded into their convolutions."""
from .folded_norm import fold_frozen_norm, frozen_norm_affine, is_folded
from .pixel_pairs import PixelPairs
from .roi_align import SeparableROIAlign, separable_roi_align, use_separable_roi_align
