"""Displacement field -> class-agnostic instance map (Sec. 5.1).

1. Refine D iteratively (Eq. 10): each pixel's point moves by D read at its
   current position, p_{u+1} = p_u + D(p_u), clamped to the grid. ``sampling``
   "bilinear" reads D bilinearly at p_u (the authors' code); "nearest" reads it
   at the rounded cell (not clamping p_u itself).
2. Candidate centroids: pixels whose (mean-subtracted) |D| is under a threshold
   (D is ~0 on all background, so the centre of an object smaller than about
   threshold + 1 cells in radius joins the background's component);
   each connected component of candidates is one centroid (``connectivity`` 4,
   the authors' code, or 8).
   Or (our option, not the paper's) the "landing" rule: a centroid is a
   connected group of cells (dilated by one cell) where at least a given mass
   of refined vectors lands, each pixel weighing its max CAM, so background
   pixels (D ~ 0, CAM ~ 0) make no centroids however small the objects.
3. Each pixel takes the centroid component its refined vector lands in; a
   landing point outside every component takes the nearest component (the
   authors' code puts all such pixels into one extra instance).
"""
import numpy as np
import torch
from scipy import ndimage

__all__ = ["REFINE_SAMPLINGS", "refine_displacement", "centroid_components", "landing_cells", "landing_components",
           "instance_map", "grow_large_pieces"]


REFINE_SAMPLINGS = ("bilinear", "nearest")


def _connectivity_structure(connectivity: int) -> np.ndarray:
    """scipy.ndimage structuring element of 4- or 8-connectivity."""
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, not {connectivity!r}")
    return ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)


def _sample_bilinear(flat: torch.Tensor, h: int, w: int, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A field (C, h * w) read bilinearly at points (y, x) ((S,) each, inside [0, h-1] x [0, w-1]) -> (C, S).

    The four corners are gathered in one index (one call instead of four: Eq. 10 runs 100 of these on small grids,
    where each call's overhead is the cost); a point on the last row or column reads its own row or column twice.
    """
    y0, x0 = y.floor(), x.floor()
    wy, wx = y - y0, x - x0
    top_left = (y0 * w + x0).long()
    down = (y0 < h - 1).long() * w
    right = (x0 < w - 1).long()
    corners = flat[:, torch.stack([top_left, top_left + right, top_left + down, top_left + down + right])]  # (C, 4, S)
    return ((1 - wy) * ((1 - wx) * corners[:, 0] + wx * corners[:, 1])
            + wy * ((1 - wx) * corners[:, 2] + wx * corners[:, 3]))


def refine_displacement(displacement: torch.Tensor, iterations: int = 100, min_norm: float = 0.0,
                        sampling: str = "bilinear") -> torch.Tensor:
    """Eq. 10 on D (2, h, w) (dy, dx in grid pixels) -> refined (2, h, w): where each pixel's point ends, minus
    the pixel's position.

    sampling: "bilinear" (the authors' code): the point moves by D read bilinearly at its current position and
    is clamped to the grid after every step. "nearest": D is read at the rounded, clamped position.

    min_norm > 0 (not the paper): vectors shorter than ``min_norm`` grid pixels are zero first. A vector under
    half a cell does not leave its cell, yet Eq. 10 adds it up 100 times: on background, where the trained D
    is small but not zero (median 0.03 cells on synthetic train), that drift gathers pixels into groups that
    the landing rule takes for centroids.
    """
    if sampling not in REFINE_SAMPLINGS:
        raise ValueError(f"unknown refinement sampling {sampling!r} ({', '.join(REFINE_SAMPLINGS)})")
    if min_norm > 0:
        displacement = displacement * (displacement.norm(dim=0, keepdim=True) >= min_norm)
    _, h, w = displacement.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=displacement.device), torch.arange(w, device=displacement.device),
                            indexing="ij")
    flat = displacement.reshape(2, -1)  # (2, h * w): both reads index it
    if sampling == "bilinear":
        py, px = ys.to(displacement.dtype).flatten(), xs.to(displacement.dtype).flatten()
        for _ in range(iterations):
            step = _sample_bilinear(flat, h, w, py, px)
            next_y, next_x = (py + step[0]).clamp(0, h - 1), (px + step[1]).clamp(0, w - 1)
            if torch.equal(next_y, py) and torch.equal(next_x, px):
                break  # every point at rest: the remaining steps would not move it
            py, px = next_y, next_x
        return torch.stack([py.view(h, w) - ys, px.view(h, w) - xs])
    refined = displacement.clone()
    for _ in range(iterations):
        ty = (ys + refined[0]).round().clamp(0, h - 1).long()
        tx = (xs + refined[1]).round().clamp(0, w - 1).long()
        refined = refined + flat[:, (ty * w + tx).flatten()].view(2, h, w)
    return refined


def centroid_components(displacement: torch.Tensor, threshold: float = 2.5, connectivity: int = 4):
    """Candidate centroids |D| < threshold, grouped by ``connectivity`` (4 or 8).

    Args:
        displacement: D (2, h, w), grid pixels.
    Returns:
        labels: int (h, w) numpy, 0 outside candidates, 1..K component ids. K: int.
    """
    magnitude = displacement.norm(dim=0).cpu().numpy()
    candidates = magnitude < threshold
    labels, k = ndimage.label(candidates, structure=_connectivity_structure(connectivity))
    return labels, int(k)


def landing_cells(refined: torch.Tensor):
    """Refined D (2, h, w) -> (ty, tx) long (h, w): the grid cell each pixel's refined vector lands in."""
    _, h, w = refined.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=refined.device), torch.arange(w, device=refined.device),
                            indexing="ij")
    ty = (ys + refined[0]).round().clamp(0, h - 1).long()
    tx = (xs + refined[1]).round().clamp(0, w - 1).long()
    return ty, tx


def landing_components(cells, weights: torch.Tensor, min_mass: float = 2.0, connectivity: int = 4):
    """Centroids where refined vectors gather: cells whose 3x3 neighbourhood max of landing mass >= min_mass.

    Args:
        cells: (ty, tx) long (h, w) from ``landing_cells``. weights: (h, w) mass of each pixel (e.g. its max CAM).
    Returns:
        labels: int (h, w) numpy, 0 outside centroids, 1..K (groups of ``connectivity`` 4 or 8). K: int.
    """
    ty, tx = cells
    h, w = ty.shape
    mass = torch.zeros(h * w, dtype=torch.float32, device=ty.device)
    mass.index_add_(0, (ty * w + tx).flatten(), weights.float().flatten().to(ty.device))
    spread = torch.nn.functional.max_pool2d(mass.view(1, 1, h, w), 3, stride=1, padding=1)[0, 0]
    labels, k = ndimage.label((spread >= min_mass).cpu().numpy(), structure=_connectivity_structure(connectivity))
    return labels, int(k)


def instance_map(displacement: torch.Tensor, iterations: int = 100, centroid_threshold: float = 2.5,
                 mean_displacement: torch.Tensor = None, landing_weights=None,
                 min_landing_mass: float = 2.0, min_norm: float = 0.0, *, connectivity: int = 4,
                 sampling: str = "bilinear"):
    """Class-agnostic instance map I from D (2, h, w).

    Args:
        mean_displacement: (2,) subtracted from D first (measured on training images), or None.
        landing_weights: (h, w) float, or None. Given: the landing rule (``landing_components`` with
            ``min_landing_mass``) finds the centroids instead of |D| < centroid_threshold.
        min_norm, sampling: ``refine_displacement``'s (vectors shorter than min_norm are zero before Eq. 10;
            "bilinear" or "nearest" reads of D).
        connectivity: 4 (the authors' code) or 8: how candidate or landing cells group into centroids.
    Returns:
        I: long (h, w) instance ids 0..K-1, and K (>= 1).
    """
    d = displacement.float()
    if mean_displacement is not None:
        d = d - torch.as_tensor(mean_displacement, dtype=d.dtype, device=d.device).view(2, 1, 1)
    _, h, w = d.shape
    ty, tx = landing_cells(refine_displacement(d, iterations, min_norm, sampling))
    if landing_weights is not None:
        components, k = landing_components((ty, tx), torch.as_tensor(landing_weights), min_landing_mass, connectivity)
    else:
        components, k = centroid_components(d, centroid_threshold, connectivity)
    if k == 0:
        return torch.zeros(h, w, dtype=torch.long, device=d.device), 1
    # components outside: nearest component pixel (distance transform with indices)
    _, (near_y, near_x) = ndimage.distance_transform_edt(components == 0, return_indices=True)
    nearest = torch.from_numpy(components[near_y, near_x].astype(np.int64)).to(d.device)  # closest centroid's id
    return nearest[ty, tx] - 1, k


def grow_large_pieces(pieces: np.ndarray, cells: np.ndarray, min_cells: float):
    """Small pieces given to the nearest large one.

    Args:
        pieces: int (h, w), 0 none, 1..n piece ids. cells: bool (h, w), every cell to label (the pieces' and any
            others, e.g. a cut line). min_cells: size of a large piece (> 0).
    Returns:
        labels: int64 (h, w), each of ``cells`` the id 1..m of the nearest large piece (Euclidean), 0 elsewhere;
        kept: int (m,) the original ids of the large pieces, ascending (the largest piece alone if none is large;
        empty, with every cell labelled 1, if there is no piece).
    """
    sizes = np.bincount(pieces.ravel())
    sizes[0] = 0
    if not sizes.any():
        return cells.astype(np.int64), np.zeros(0, np.int64)
    kept = np.flatnonzero(sizes >= min_cells)
    kept = kept[kept > 0]
    if not len(kept):
        kept = np.array([int(sizes.argmax())])
    lookup = np.zeros(len(sizes), np.int64)
    lookup[kept] = np.arange(1, len(kept) + 1)
    seeds = lookup[pieces]
    _, (near_y, near_x) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    return np.where(cells, seeds[near_y, near_x], 0), kept
