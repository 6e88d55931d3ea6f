"""IRNet losses from inter-pixel relations (Eq. 5, 6, 8; total Eq. 9).

Pairs (i, j = i + d) within the training radius, labelled from the relation
map (0 background, c + 1 class, 255 ignored):
P+fg: same foreground class; P+bg: both background; P-: different labels.
Optionally (not the paper) Eq. 5 keeps only the P+fg pairs inside one region of
a region map (connected regions of the labels, or instance regions): two
regions of one class are two instances.
Eq. 5 fixes D only up to a constant per region, so two touching regions can share
one centroid at no cost; optionally (not the paper) ``region_mean_loss`` asks the
mean of D over each region to be zero, which makes each region's field point at
the region's own mean position, and ``region_centroid_loss`` asks every pixel's
D to point at that position.
"""
from typing import Dict

import torch

from ..layers.pixel_pairs import PixelPairs

__all__ = ["pair_sets", "same_region_pairs", "displacement_losses", "region_mean_loss", "region_centroid_loss",
           "boundary_losses", "irnet_losses"]


def pair_sets(labels: torch.Tensor, pairs: PixelPairs):
    """labels (N, h, w) long -> boolean (N, P, h, w) masks (pos_fg, pos_bg, neg)."""
    lab_i = labels[:, None]
    lab_j = pairs.neighbor_values(labels.float(), fill=255.0).long()
    valid = (lab_i != 255) & (lab_j != 255)
    same = valid & (lab_i == lab_j)
    return same & (lab_i > 0), same & (lab_i == 0), valid & (lab_i != lab_j)


def same_region_pairs(regions: torch.Tensor, pairs: PixelPairs) -> torch.Tensor:
    """regions (N, h, w) long ids (-1: none; the relation stage's instance regions) -> bool (N, P, h, w): both
    ends of the pair in one region."""
    reg_j = pairs.neighbor_values(regions.float(), fill=-1.0).long()
    return (regions[:, None] == reg_j) & (regions[:, None] >= 0)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``mask``; 0 (in the graph) for an empty mask."""
    m = mask.to(values.dtype)
    return (values * m).sum() / m.sum().clamp(min=1.0)


def displacement_losses(displacement: torch.Tensor, pos_fg, pos_bg, pairs: PixelPairs):
    """Eq. 5 and Eq. 6.

    Args:
        displacement: D (N, 2, h, w) in stride-4 pixels (dy, dx).
    Returns:
        (L_fg, L_bg): mean over P+fg of |(D_i - D_j) - (x_j - x_i)|_1 and mean over P+bg of |D_i - D_j|_1.
    """
    d_j = pairs.neighbor_values(displacement)  # (N, 2, P, h, w)
    delta = displacement[:, :, None] - d_j
    offsets = pairs.offsets.to(displacement.device, displacement.dtype).t()[None, :, :, None, None]  # (1,2,P,1,1)
    l_fg = _masked_mean((delta - offsets).abs().sum(dim=1), pos_fg)
    l_bg = _masked_mean(delta.abs().sum(dim=1), pos_bg)
    return l_fg, l_bg


def region_mean_loss(displacement: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Mean over regions of |mean of D over the region|_1.

    D(x) = c - x for every pixel x of a region whose centroid c is its mean position exactly when the
    mean of D over the region is 0; with Eq. 5 (D_i - D_j = x_j - x_i inside a region) that fixes the
    region's centroid.

    Args:
        displacement: D (N, 2, h, w) in stride-4 pixels. regions: (N, h, w) long ids, -1 for none.
    Returns:
        scalar, stride-4 pixels (0, in the graph, without any region).
    """
    n = displacement.shape[0]
    inside, index, pixels = _region_index(regions)
    if len(pixels) == 0:
        return displacement.sum() * 0.0
    values = displacement.reshape(n, 2, -1).permute(0, 2, 1)[inside]  # (M, 2)
    sums = values.new_zeros(len(pixels), 2).index_add_(0, index, values)
    return (sums / pixels[:, None].to(values.dtype)).abs().sum(dim=1).mean()


def _region_index(regions: torch.Tensor):
    """regions (N, h, w) long ids (-1: none) -> inside (N, hw) bool; index (M,) of each inside pixel's region
    among the batch's regions (equal ids in two images are two regions); pixels (R,) long, each region's size."""
    n = regions.shape[0]
    ids = regions.long().reshape(n, -1)
    inside = ids >= 0
    keys = (torch.arange(n, device=ids.device)[:, None] * (int(ids.max().clamp(min=0)) + 1) + ids)[inside]
    _, index, pixels = torch.unique(keys, return_inverse=True, return_counts=True)
    return inside, index, pixels


def region_centroid_loss(displacement: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Mean over regions of the mean over their pixels x of |D(x) - (c - x)|_1, c the region's mean position.

    Each pixel is told where its region's centroid is, not only (Eq. 5) where it lies relative to the
    other pixels of the region: the field must jump at the seam between two touching regions.

    Args:
        displacement: D (N, 2, h, w) in stride-4 pixels. regions: (N, h, w) long ids, -1 for none.
    Returns:
        scalar, stride-4 pixels (0, in the graph, without any region).
    """
    n, _, h, w = displacement.shape
    inside, index, pixels = _region_index(regions)
    if len(pixels) == 0:
        return displacement.sum() * 0.0
    count, pixels = len(pixels), pixels.to(displacement.dtype)
    ys, xs = torch.meshgrid(torch.arange(h, device=displacement.device, dtype=displacement.dtype),
                            torch.arange(w, device=displacement.device, dtype=displacement.dtype), indexing="ij")
    position = torch.stack([ys, xs]).reshape(2, -1).t()[None].expand(n, -1, -1)[inside]  # (M, 2)
    centroid = position.new_zeros(count, 2).index_add_(0, index, position) / pixels[:, None]
    values = displacement.reshape(n, 2, -1).permute(0, 2, 1)[inside]  # (M, 2)
    error = (values - (centroid[index] - position)).abs().sum(dim=1)
    return (position.new_zeros(count).index_add_(0, index, error) / pixels).mean()


def boundary_losses(boundary: torch.Tensor, pos_fg, pos_bg, neg, pairs: PixelPairs, eps: float = 1e-5, aff=None):
    """Eq. 8 with a_ij = 1 - max of B on the path (Eq. 7); the three terms normalised separately.

    Args:
        boundary: B (N, h, w) in [0, 1].
        aff: the (N, P, h, w) affinities of ``boundary`` when already computed.
    Returns:
        (fg term / 2, bg term / 2, negative term).
    """
    if aff is None:
        aff = pairs.affinity(boundary)
    l_fg = _masked_mean(-torch.log(aff + eps), pos_fg) / 2
    l_bg = _masked_mean(-torch.log(aff + eps), pos_bg) / 2
    l_neg = _masked_mean(-torch.log(1.0 + eps - aff), neg)
    return l_fg, l_bg, l_neg


def irnet_losses(displacement, boundary, labels, pairs: PixelPairs, weights=(1.0, 1.0, 1.0),
                 regions=None, region_boundaries=False,
                 region_mean_weight=0.0, region_centroid_weight=0.0) -> Dict[str, torch.Tensor]:
    """Eq. 9 as a Detectron2 loss dict (summed by the trainer).

    Args:
        displacement: (N, 2, h, w). boundary: (N, h, w). labels: (N, h, w) long relation labels.
        weights: (displacement fg, displacement bg, boundary) weights.
        regions: (N, h, w) long region ids (-1: none) or None. Given: Eq. 5 only on P+fg pairs within one
            region (Eq. 8 keeps all of them). None: the paper.
        region_boundaries: with ``regions``, Eq. 8 also counts same-class pairs of two different regions
            as negative pairs (and not as P+fg), so that B learns the boundaries between regions.
        region_mean_weight: > 0 (with ``regions``): adds ``loss_disp_region_mean``, this weight times
            ``region_mean_loss``. 0: the paper.
        region_centroid_weight: > 0 (with ``regions``): adds ``loss_disp_region_centroid``, this weight
            times ``region_centroid_loss``. 0: the paper.
    """
    pos_fg, pos_bg, neg = pair_sets(labels, pairs)
    aff = pairs.affinity(boundary)
    disp_fg = pos_fg & same_region_pairs(regions, pairs) if regions is not None else pos_fg
    d_fg, d_bg = displacement_losses(displacement, disp_fg, pos_bg, pairs)
    bnd_fg, bnd_neg = pos_fg, neg
    if region_boundaries and regions is not None:
        bnd_fg, bnd_neg = disp_fg, neg | (pos_fg & ~disp_fg)
    b_fg, b_bg, b_neg = boundary_losses(boundary, bnd_fg, pos_bg, bnd_neg, pairs, aff=aff)
    w_fg, w_bg, w_b = weights
    losses = {
        "loss_disp_fg": w_fg * d_fg,
        "loss_disp_bg": w_bg * d_bg,
        "loss_bnd_fg": w_b * b_fg,
        "loss_bnd_bg": w_b * b_bg,
        "loss_bnd_neg": w_b * b_neg,
    }
    if region_mean_weight > 0 and regions is not None:
        losses["loss_disp_region_mean"] = region_mean_weight * region_mean_loss(displacement, regions)
    if region_centroid_weight > 0 and regions is not None:
        losses["loss_disp_region_centroid"] = region_centroid_weight * region_centroid_loss(displacement, regions)
    return losses
