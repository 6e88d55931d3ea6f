"""Pixel pairs within a radius and the pixels on the segment between them (Eq. 2, Eq. 7).

A pair is (i, j = i + d) for a direction d = (dy, dx) in the half plane
``dy > 0 or (dy == 0 and dx > 0)`` with ``dy^2 + dx^2 < r^2``: each unordered
pair once (34 directions at r = 5, 152 at r = 10). The path Pi_ij of Eq. 7 is
the set of lattice points near the segment from i to j, both
ends included (points of the segment's bounding box closer than 1 pixel
to its line). Everything is computed once per radius and kept as index
tensors; maps are processed with shifted views, vectorised over directions.
"""
import functools
import math

import torch
import torch.nn.functional as F

__all__ = ["pair_offsets", "path_offsets", "PixelPairs"]


def pair_offsets(radius: int) -> torch.Tensor:
    """(P, 2) long (dy, dx): half-plane directions with dy^2 + dx^2 < radius^2."""
    r = int(math.ceil(radius))
    ys, xs = torch.meshgrid(torch.arange(0, r + 1), torch.arange(-r, r + 1), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    keep = (ys * ys + xs * xs < radius * radius) & ((ys > 0) | ((ys == 0) & (xs > 0)))
    return torch.stack([ys[keep], xs[keep]], dim=1)


def path_offsets(offset) -> torch.Tensor:
    """(L, 2) long: the pixels Pi_ij between (0, 0) and ``offset`` (Eq. 7).

    Lattice points inside the segment's bounding box whose distance to the
    segment's line is under 1 pixel; both ends included.
    """
    dy, dx = (int(v) for v in offset)
    ys, xs = torch.meshgrid(torch.arange(min(0, dy), max(0, dy) + 1), torch.arange(min(0, dx), max(0, dx) + 1),
                            indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    dist_sq = (dy * xs - dx * ys).double() ** 2 / (dy * dy + dx * dx)
    keep = dist_sq < 1.0
    return torch.stack([ys[keep], xs[keep]], dim=1)


class PixelPairs:
    """All pairs within ``radius`` on an (h, w) grid, as shifted views of maps.

    Attributes:
        offsets: (P, 2) long directions (dy, dx).
        path_table: (Q, 2) long, every offset that lies on some path.
        path_index: (P, Lmax) long into ``path_table``; short paths repeat their last entry.
        path_lengths: (P,) long, the number of points on each path (2 to Lmax).
    """

    def __init__(self, radius: int):
        self.radius = radius
        self.offsets = pair_offsets(radius)
        paths = [path_offsets(d) for d in self.offsets]
        table = torch.unique(torch.cat(paths), dim=0)
        self.path_table = table
        lookup = {tuple(t.tolist()): k for k, t in enumerate(table)}
        lmax = max(len(p) for p in paths)
        index = torch.empty(len(paths), lmax, dtype=torch.long)
        for k, p in enumerate(paths):
            ids = [lookup[tuple(q.tolist())] for q in p]
            index[k] = torch.tensor(ids + [ids[-1]] * (lmax - len(ids)))
        self.path_index = index
        self.path_lengths = torch.tensor([len(p) for p in paths])
        # directions grouped by path length: a group reads only its own L columns of path_index
        self._length_groups = [(int(length), torch.nonzero(self.path_lengths == length).flatten())
                               for length in torch.unique(self.path_lengths)]
        self.margin = int(table.abs().max())

    @staticmethod
    @functools.lru_cache(maxsize=8)
    def get(radius: int) -> "PixelPairs":
        """The cached instance for ``radius``."""
        return PixelPairs(radius)

    def __len__(self):
        return len(self.offsets)

    def _shift_stack(self, x: torch.Tensor, offsets: torch.Tensor, fill: float) -> torch.Tensor:
        """x (..., h, w) -> (..., K, h, w) with out[..., k, y, x] = x[..., y + dy_k, x + dx_k] (fill outside)."""
        h, w = x.shape[-2:]
        m = self.margin
        padded = F.pad(x, (m, m, m, m), value=fill)
        views = [padded[..., m + dy:m + dy + h, m + dx:m + dx + w] for dy, dx in offsets.tolist()]
        return torch.stack(views, dim=-3)

    def valid_mask(self, h: int, w: int, device=None) -> torch.Tensor:
        """(P, h, w) bool: j = i + d lies inside the grid."""
        ones = torch.ones(h, w, device=device)
        return self._shift_stack(ones, self.offsets, 0.0) > 0

    def neighbor_values(self, x: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
        """x (..., h, w) -> (..., P, h, w): the value at j = i + d (``fill`` outside the grid)."""
        return self._shift_stack(x, self.offsets, fill)

    def path_max(self, b: torch.Tensor, chunk_elements: int = 1 << 24) -> torch.Tensor:
        """b (N, h, w) -> (N, P, h, w): max of b over the path from i to i + d (outside points ignored).

        Without autograd, the shifted maps of each direction's path are gathered
        into one (N, P', L, h, w) block and reduced over L, P' directions of one
        path length L at a time (no padded points read; each block at most
        ``chunk_elements`` values). With autograd, the block's arg-max (the first one
        on a tie) names the table entry of each max, and the values are gathered from
        the table there, so the gradient reaches the arg-max pixel and autograd keeps
        O(N * P * h * w), never O(N * P * L * h * w).
        """
        table = self._shift_stack(b, self.path_table, float("-inf"))  # (N, Q, h, w)
        index = self.path_index.to(b.device)  # (P, Lmax)
        n, _, h, w = table.shape
        # per direction: the max value (no autograd) or the table entry that holds it
        out = table.new_empty((n, len(index), h, w), dtype=torch.long if table.requires_grad else table.dtype)
        with torch.no_grad():
            for length, directions in self._length_groups:
                directions = directions.to(b.device)
                step = max(1, chunk_elements // max(1, n * length * h * w))
                for start in range(0, len(directions), step):
                    chunk = directions[start:start + step]
                    rows = index[chunk, :length]  # (p, L)
                    paths = table[:, rows.flatten()].view(n, len(rows), length, h, w)
                    value, position = paths.max(dim=2)  # first arg-max on ties
                    out[:, chunk] = (torch.gather(rows.view(1, -1, length, 1, 1).expand(n, -1, -1, h, w), 2,
                                                  position.unsqueeze(2)).squeeze(2) if table.requires_grad else value)
        return table.gather(1, out) if table.requires_grad else out

    def affinity(self, b: torch.Tensor) -> torch.Tensor:
        """Eq. 7: a_ij = 1 - max_{k in Pi_ij} B(x_k); b (N, h, w) -> (N, P, h, w)."""
        return 1.0 - self.path_max(b)
