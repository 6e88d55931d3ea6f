"""Displacement field -> class-agnostic instance map (Sec. 5.1).

1. Refine D iteratively (Eq. 10): D_{u+1}(x) = D_u(x) + D(x + D_u(x)), sampling D
   at the rounded landing point, clamped to the grid.
2. Candidate centroids: pixels whose (mean-subtracted) |D| is under a threshold;
   each 8-connected component of candidates is one centroid.
3. Each pixel takes the centroid component its refined vector lands in; a
   landing point outside every component takes the nearest component.
"""
import numpy as np
import torch
from scipy import ndimage

__all__ = ["refine_displacement", "centroid_components", "instance_map"]


def refine_displacement(displacement: torch.Tensor, iterations: int = 100) -> torch.Tensor:
    """Eq. 10 on D (2, h, w) (dy, dx in grid pixels) -> refined (2, h, w)."""
    _, h, w = displacement.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=displacement.device), torch.arange(w, device=displacement.device),
                            indexing="ij")
    flat = displacement.reshape(2, -1)
    refined = displacement.clone()
    for _ in range(iterations):
        ty = (ys + refined[0]).round().clamp(0, h - 1).long()
        tx = (xs + refined[1]).round().clamp(0, w - 1).long()
        refined = refined + flat[:, (ty * w + tx).flatten()].view(2, h, w)
    return refined


def centroid_components(displacement: torch.Tensor, threshold: float = 2.5):
    """Candidate centroids |D| < threshold, grouped by 8-connectivity.

    Returns:
        labels: int (h, w) numpy, 0 outside candidates, 1..K component ids. K: int.
    """
    magnitude = displacement.norm(dim=0).cpu().numpy()
    labels, k = ndimage.label(magnitude < threshold, structure=np.ones((3, 3), bool))
    return labels, int(k)


def instance_map(displacement: torch.Tensor, iterations: int = 100, centroid_threshold: float = 2.5,
                 mean_displacement: torch.Tensor = None):
    """Class-agnostic instance map I from D (2, h, w).

    Args:
        mean_displacement: (2,) subtracted from D first (measured on training images), or None.
    Returns:
        I: long (h, w) instance ids 0..K-1, and K (>= 1).
    """
    d = displacement.float()
    if mean_displacement is not None:
        d = d - torch.as_tensor(mean_displacement, dtype=d.dtype, device=d.device).view(2, 1, 1)
    _, h, w = d.shape
    components, k = centroid_components(d, centroid_threshold)
    if k == 0:
        return torch.zeros(h, w, dtype=torch.long, device=d.device), 1
    # components outside: nearest component pixel (distance transform with indices)
    _, (near_y, near_x) = ndimage.distance_transform_edt(components == 0, return_indices=True)
    nearest = components[near_y, near_x]  # (h, w) component of the closest candidate pixel
    refined = refine_displacement(d, iterations).cpu()
    ys, xs = np.mgrid[0:h, 0:w]
    ty = np.clip(np.rint(ys + refined[0].numpy()), 0, h - 1).astype(np.int64)
    tx = np.clip(np.rint(xs + refined[1].numpy()), 0, w - 1).astype(np.int64)
    ids = nearest[ty, tx] - 1
    return torch.from_numpy(ids.astype(np.int64)).to(d.device), k
