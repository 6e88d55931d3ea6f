"""Displacement field -> class-agnostic instance map (Sec. 5.1).

1. Refine D iteratively (Eq. 10): D_{u+1}(x) = D_u(x) + D(x + D_u(x)), sampling D
   at the rounded landing point, clamped to the grid.
2. Candidate centroids: pixels whose (mean-subtracted) |D| is under a threshold,
   optionally only inside a foreground mask (our option, not the paper's: D is
   ~0 on all background, so without it the centre of an object smaller than
   about threshold + 1 cells in radius joins the background's component);
   each 8-connected component of candidates is one centroid.
   Or (our option, not the paper's) the "landing" rule: a centroid is an
   8-connected group of cells (dilated by one cell) where at least a given mass
   of refined vectors lands, each pixel weighing its max CAM, so background
   pixels (D ~ 0, CAM ~ 0) make no centroids however small the objects.
3. Each pixel takes the centroid component its refined vector lands in; a
   landing point outside every component takes the nearest component.
"""
import numpy as np
import torch
from scipy import ndimage

__all__ = ["refine_displacement", "centroid_components", "landing_cells", "landing_components", "instance_map"]


def refine_displacement(displacement: torch.Tensor, iterations: int = 100, min_norm: float = 0.0) -> torch.Tensor:
    """Eq. 10 on D (2, h, w) (dy, dx in grid pixels) -> refined (2, h, w).

    min_norm > 0 (not the paper): vectors shorter than ``min_norm`` grid pixels are zero first. A vector under
    half a cell does not leave its cell, yet Eq. 10 adds it up 100 times: on background, where the trained D
    is small but not zero (median 0.03 cells on synthetic train), that drift gathers pixels into groups that
    the landing rule takes for centroids.
    """
    if min_norm > 0:
        displacement = displacement * (displacement.norm(dim=0, keepdim=True) >= min_norm)
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


def centroid_components(displacement: torch.Tensor, threshold: float = 2.5, foreground=None):
    """Candidate centroids |D| < threshold (and inside ``foreground``), grouped by 8-connectivity.

    Args:
        displacement: D (2, h, w), grid pixels. foreground: bool (h, w) tensor/array or None (everywhere).
    Returns:
        labels: int (h, w) numpy, 0 outside candidates, 1..K component ids. K: int.
    """
    magnitude = displacement.norm(dim=0).cpu().numpy()
    candidates = magnitude < threshold
    if foreground is not None:
        candidates &= torch.as_tensor(foreground).bool().cpu().numpy()
    labels, k = ndimage.label(candidates, structure=np.ones((3, 3), bool))
    return labels, int(k)


def landing_cells(refined: torch.Tensor):
    """Refined D (2, h, w) -> (ty, tx) long (h, w): the grid cell each pixel's refined vector lands in."""
    _, h, w = refined.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=refined.device), torch.arange(w, device=refined.device),
                            indexing="ij")
    ty = (ys + refined[0]).round().clamp(0, h - 1).long()
    tx = (xs + refined[1]).round().clamp(0, w - 1).long()
    return ty, tx


def landing_components(cells, weights: torch.Tensor, min_mass: float = 2.0):
    """Centroids where refined vectors gather: cells whose 3x3 neighbourhood max of landing mass >= min_mass.

    Args:
        cells: (ty, tx) long (h, w) from ``landing_cells``. weights: (h, w) mass of each pixel (e.g. its max CAM).
    Returns:
        labels: int (h, w) numpy, 0 outside centroids, 1..K (8-connected groups). K: int.
    """
    ty, tx = cells
    h, w = ty.shape
    mass = torch.zeros(h * w, dtype=torch.float32, device=ty.device)
    mass.index_add_(0, (ty * w + tx).flatten(), weights.float().flatten().to(ty.device))
    spread = torch.nn.functional.max_pool2d(mass.view(1, 1, h, w), 3, stride=1, padding=1)[0, 0]
    labels, k = ndimage.label((spread >= min_mass).cpu().numpy(), structure=np.ones((3, 3), bool))
    return labels, int(k)


def instance_map(displacement: torch.Tensor, iterations: int = 100, centroid_threshold: float = 2.5,
                 mean_displacement: torch.Tensor = None, foreground=None, landing_weights=None,
                 min_landing_mass: float = 2.0, min_norm: float = 0.0):
    """Class-agnostic instance map I from D (2, h, w).

    Args:
        mean_displacement: (2,) subtracted from D first (measured on training images), or None.
        foreground: bool (h, w): where candidate centroids may lie, or None (anywhere, the paper).
        landing_weights: (h, w) float, or None. Given: the landing rule (``landing_components`` with
            ``min_landing_mass``) finds the centroids instead of |D| < centroid_threshold.
        min_norm: ``refine_displacement``'s (vectors shorter than it are zero before Eq. 10).
    Returns:
        I: long (h, w) instance ids 0..K-1, and K (>= 1).
    """
    d = displacement.float()
    if mean_displacement is not None:
        d = d - torch.as_tensor(mean_displacement, dtype=d.dtype, device=d.device).view(2, 1, 1)
    _, h, w = d.shape
    ty, tx = landing_cells(refine_displacement(d, iterations, min_norm))
    if landing_weights is not None:
        components, k = landing_components((ty, tx), torch.as_tensor(landing_weights), min_landing_mass)
    else:
        components, k = centroid_components(d, centroid_threshold, foreground)
    if k == 0:
        return torch.zeros(h, w, dtype=torch.long, device=d.device), 1
    # components outside: nearest component pixel (distance transform with indices)
    _, (near_y, near_x) = ndimage.distance_transform_edt(components == 0, return_indices=True)
    nearest = torch.from_numpy(components[near_y, near_x].astype(np.int64)).to(d.device)  # closest centroid's id
    return nearest[ty, tx] - 1, k
