"""Affinities from the boundary map and random-walk propagation (Eq. 7, 12, 13).

The affinity matrix A is restricted to radius-r neighbourhoods (69 neighbours
a pixel at r = 5, symmetric, 1 on the diagonal), so T = S^-1 A^beta is kept as
a sparse CSR matrix (rows cut straight from a fixed-width neighbour table, no
sorting) and the t = 256 steps of Eq. 13 are sparse products with all maps at
once. The dense (hw x hw) matrix is never built. CSR spmm was faster than the
stencil form (shifted multiply-adds): see benchmarks/random_walk.py.
"""
import warnings

import torch

from ..layers.pixel_pairs import PixelPairs

__all__ = ["neighbor_affinity", "transition_operator", "propagate", "random_walk"]


def neighbor_affinity(boundary: torch.Tensor, radius: int = 5, beta: float = 10.0):
    """Eq. 7 and the Hadamard power of Eq. 12 in a fixed-width neighbour table.

    Args:
        boundary: B (h, w) in [0, 1].
    Returns:
        cols: (hw, 2P + 1) long, flat index of each neighbour j of pixel i (both
            directions of every pair and i itself), ascending along a row;
        values: (hw, 2P + 1) a_ij^beta, 0 for neighbours outside the grid, a_ii = 1.
    """
    h, w = boundary.shape
    device = boundary.device
    pairs = PixelPairs.get(radius)
    offsets = pairs.offsets.to(device)
    forward = pairs.affinity(boundary[None].float())[0].clamp(min=0.0) ** beta  # (P, h, w): a(i, i + d)
    forward = forward * pairs.valid_mask(h, w, device)
    # a(i, i - d) is the forward affinity of pixel i - d, i.e. forward shifted by +d
    back = torch.stack([_shift(forward[k], -int(dy), -int(dx)) for k, (dy, dx) in enumerate(offsets.tolist())])
    flat_offsets = offsets[:, 0] * w + offsets[:, 1]  # all positive in raster order
    order = torch.argsort(flat_offsets)
    steps = torch.cat([-flat_offsets[order].flip(0), flat_offsets.new_zeros(1), flat_offsets[order]])
    values = torch.cat([back[order].flip(0), torch.ones(1, h, w, device=device, dtype=forward.dtype), forward[order]])
    index = torch.arange(h * w, device=device)
    cols = (index[:, None] + steps[None]).clamp(0, h * w - 1)
    return cols, values.reshape(len(steps), h * w).t().contiguous()


def _inside(h: int, w: int, radius: int, device) -> torch.Tensor:
    """(hw, 2P + 1) bool: the neighbour of each table slot lies inside the grid (table order of ``neighbor_affinity``)."""
    pairs = PixelPairs.get(radius)
    valid = pairs.valid_mask(h, w, device)  # (P, h, w) for +d
    flat = pairs.offsets[:, 0] * w + pairs.offsets[:, 1]
    order = torch.argsort(flat).to(device)
    back = torch.stack([_shift(valid[k].float(), -int(dy), -int(dx)) > 0
                        for k, (dy, dx) in enumerate(pairs.offsets.tolist())])
    table = torch.cat([back[order].flip(0), torch.ones(1, h, w, dtype=torch.bool, device=device), valid[order]])
    return table.reshape(len(table), h * w).t()


def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """out[y, x] = x[y + dy, x + dx] (0 outside)."""
    h, w = x.shape
    out = torch.zeros_like(x)
    ys, ye = max(0, -dy), min(h, h - dy)
    xs, xe = max(0, -dx), min(w, w - dx)
    if ys < ye and xs < xe:
        out[ys:ye, xs:xe] = x[ys + dy:ye + dy, xs + dx:xe + dx]
    return out


def transition_operator(boundary: torch.Tensor, radius: int = 5, beta: float = 10.0) -> torch.Tensor:
    """T = S^-1 A^beta (Eq. 12): sparse CSR (hw, hw), rows sum to 1.

    Entries of neighbours outside the grid are dropped; rows keep their
    ascending column order, so the CSR arrays are cut straight from the table.
    """
    h, w = boundary.shape
    cols, values = neighbor_affinity(boundary, radius, beta)
    values = values / values.sum(dim=1, keepdim=True)
    inside = _inside(h, w, radius, values.device)  # (hw, 2P + 1)
    crow = torch.zeros(h * w + 1, dtype=torch.long, device=values.device)
    crow[1:] = inside.sum(dim=1).cumsum(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(crow, cols[inside], values[inside], (h * w, h * w),
                                       check_invariants=False)


def propagate(transition: torch.Tensor, maps: torch.Tensor, steps: int = 256) -> torch.Tensor:
    """Eq. 13: vec(X*) = T^t vec(X) for every map.

    Args:
        transition: sparse (hw, hw) T.
        maps: X (M, h, w).
    Returns:
        (M, h, w).
    """
    m, h, w = maps.shape
    x = maps.reshape(m, h * w).t().contiguous()
    for _ in range(steps):
        x = transition @ x
    return x.t().reshape(m, h, w)


def random_walk(maps: torch.Tensor, boundary: torch.Tensor, radius: int = 5, beta: float = 10.0,
                steps: int = 256) -> torch.Tensor:
    """Propagate ``maps`` (M, h, w) with the walk of ``boundary`` (h, w), after the (1 - B) penalty of Eq. 13."""
    if maps.shape[0] == 0:
        return maps.clone()
    transition = transition_operator(boundary, radius, beta)
    return propagate(transition, maps * (1.0 - boundary)[None], steps)
