"""IRNet losses (Eq. 5, 6, 8) on hand-made relation maps."""
import math

import pytest
import torch

from irnet_wsis.layers.pixel_pairs import PixelPairs
from irnet_wsis.modeling.irnet_losses import (
    boundary_losses, displacement_losses, irnet_losses, pair_sets, region_centroid_loss, region_mean_loss,
    same_region_pairs,
)


def _square_labels(h=16, w=16):
    labels = torch.zeros(1, h, w, dtype=torch.long)
    labels[0, 4:12, 4:12] = 3  # one object of class 2 (label 3)
    labels[0, 0, :] = 255  # an ignored row
    return labels


def _centroid_field(h, w, cy, cx):
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    return torch.stack([cy - ys, cx - xs])[None]


def test_pair_sets_partition_valid_pairs():
    labels = _square_labels()
    pairs = PixelPairs(5)
    fg, bg, neg = pair_sets(labels, pairs)
    assert not (fg & bg).any() and not (fg & neg).any() and not (bg & neg).any()
    assert fg.any() and bg.any() and neg.any()
    # no pair touches the ignored row
    assert not (fg | bg | neg)[0, :, 0, :].any()


def test_eq5_zero_for_exact_centroid_field_positive_otherwise():
    labels = _square_labels()
    pairs = PixelPairs(5)
    fg, bg, _ = pair_sets(labels, pairs)
    exact = _centroid_field(16, 16, 7.5, 7.5)
    l_fg, _ = displacement_losses(exact, fg, bg, pairs)
    assert float(l_fg) < 1e-6
    wrong = exact.clone()
    wrong[:, 0] *= 0.5
    assert float(displacement_losses(wrong, fg, bg, pairs)[0]) > 0.1
    assert float(displacement_losses(torch.zeros_like(exact), fg, bg, pairs)[0]) > 0.1


def test_eq6_zero_for_constant_field():
    labels = _square_labels()
    pairs = PixelPairs(5)
    fg, bg, _ = pair_sets(labels, pairs)
    constant = torch.full((1, 2, 16, 16), 3.0)
    assert float(displacement_losses(constant, fg, bg, pairs)[1]) == 0.0
    varying = _centroid_field(16, 16, 7.5, 7.5)
    assert float(displacement_losses(varying, fg, bg, pairs)[1]) > 0.1


def test_eq8_on_drawn_boundary():
    h, w = 12, 12
    labels = torch.zeros(1, h, w, dtype=torch.long)
    labels[0, :, 6:] = 2  # class 1 on the right half, background on the left
    pairs = PixelPairs(5)
    fg, bg, neg = pair_sets(labels, pairs)
    eps = 1e-5
    on_line = torch.zeros(1, h, w)
    on_line[0, :, 5] = 1.0  # boundary on the last background column
    # pairs crossing column 5 are exactly the negatives; same-label pairs never touch the line, except
    # background pairs that end on column 5 itself
    l_fg, l_bg, l_neg = boundary_losses(on_line, fg, bg, neg, pairs, eps)
    assert float(l_fg) < 1e-4 and float(l_neg) < 1e-4
    flat = torch.zeros(1, h, w)
    _, _, l_neg_flat = boundary_losses(flat, fg, bg, neg, pairs, eps)
    assert math.isclose(float(l_neg_flat), -math.log(eps), rel_tol=1e-3)


def test_loss_dict_and_gradients():
    labels = _square_labels()
    d = torch.zeros(1, 2, 16, 16, requires_grad=True)
    b = torch.full((1, 16, 16), 0.5, requires_grad=True)
    losses = irnet_losses(d, b, labels, PixelPairs(10))
    assert set(losses) == {"loss_disp_fg", "loss_disp_bg", "loss_bnd_fg", "loss_bnd_bg", "loss_bnd_neg"}
    sum(losses.values()).backward()
    assert d.grad.abs().sum() > 0 and b.grad.abs().sum() > 0


def test_eq5_same_region_drops_pairs_between_separate_blobs():
    # two separate squares of one class within the radius of each other, each with its own centroid field
    h, w = 8, 16
    labels = torch.zeros(1, h, w, dtype=torch.long)
    labels[0, 2:6, 2:7] = 1
    labels[0, 2:6, 9:14] = 1
    pairs = PixelPairs(5)
    fg, bg, _ = pair_sets(labels, pairs)
    two = torch.cat([_centroid_field(h, 8, 3.5, 4.0), _centroid_field(h, 8, 3.5, 3.5)], dim=-1)
    plain, _ = displacement_losses(two, fg, bg, pairs)
    assert float(plain) > 0.1  # the paper's P+fg pairs the two squares (same class, within the radius)
    blobs = torch.full((1, h, w), -1, dtype=torch.long)
    blobs[0, 2:6, 2:7], blobs[0, 2:6, 9:14] = 1, 2  # the two connected regions of the class
    split = fg & same_region_pairs(blobs, pairs)
    assert bool(split.any()) and int(split.sum()) < int(fg.sum())
    within, _ = displacement_losses(two, split, bg, pairs)
    assert float(within) < 1e-6
    losses = irnet_losses(two, torch.zeros(1, h, w), labels, pairs, regions=blobs)
    assert float(losses["loss_disp_fg"]) < 1e-6


def _touching_squares(h, w):
    """Relation labels (1, h, w) with one class region (rows 2-5, columns 2-13) and its two instance
    regions (columns 2-7 and 8-13; -1 elsewhere)."""
    labels = torch.zeros(1, h, w, dtype=torch.long)
    labels[0, 2:6, 2:14] = 1
    regions = torch.full((1, h, w), -1, dtype=torch.long)
    regions[0, 2:6, 2:8] = 1
    regions[0, 2:6, 8:14] = 2
    return labels, regions


def test_eq5_within_instance_regions_splits_touching_squares():
    # two touching squares of one class: one connected region, two instance regions
    h, w = 8, 16
    labels, regions = _touching_squares(h, w)
    pairs = PixelPairs(3)
    two = torch.cat([_centroid_field(h, 8, 3.5, 4.5), _centroid_field(h, 8, 3.5, 3.5)], dim=-1)
    one_region = torch.where(labels == 1, torch.ones_like(labels), torch.full_like(labels, -1))
    connected = irnet_losses(two, torch.zeros(1, h, w), labels, pairs, regions=one_region)
    assert float(connected["loss_disp_fg"]) > 0.1  # one connected region asks for one centroid
    split = irnet_losses(two, torch.zeros(1, h, w), labels, pairs, regions=regions)
    assert float(split["loss_disp_fg"]) < 1e-6


def test_region_boundaries_make_pairs_across_instance_regions_negative():
    h, w = 8, 16
    labels = torch.zeros(1, h, w, dtype=torch.long)
    labels[0, 2:6, 2:15] = 1
    labels[0, 2:6, 8] = 255  # the seam column is ignored, as in mined relation labels
    regions = torch.full((1, h, w), -1, dtype=torch.long)
    regions[0, 2:6, 2:8] = 1
    regions[0, 2:6, 9:15] = 2
    pairs = PixelPairs(3)
    d = torch.zeros(1, 2, h, w)
    seam = torch.zeros(1, h, w)
    seam[0, :, 8] = 1.0  # a drawn boundary between the two regions
    flat = torch.zeros(1, h, w)  # no boundary anywhere
    plain = irnet_losses(d, seam, labels, pairs, regions=regions)
    split = irnet_losses(d, seam, labels, pairs, regions=regions, region_boundaries=True)
    # the paper's Eq. 8: pairs across the seam are P+fg, so the drawn seam costs in the fg term
    assert float(plain["loss_bnd_fg"]) > 0.1
    assert float(split["loss_bnd_fg"]) < 1e-3  # across-seam pairs left P+fg ...
    # ... and became negative pairs, which the drawn seam satisfies and a flat B does not
    flat_split = irnet_losses(d, flat, labels, pairs, regions=regions, region_boundaries=True)
    assert float(flat_split["loss_bnd_neg"]) > float(split["loss_bnd_neg"]) + 1.0


def test_region_mean_loss_fixes_each_regions_centroid():
    # the two touching squares above: Eq. 5 within regions is 0 both for the two true centroids and for one
    # shared centroid (a constant offset per region is free); the region-mean term tells them apart
    h, w = 8, 16
    labels, regions = _touching_squares(h, w)
    pairs = PixelPairs(3)
    left = torch.arange(w) < 8  # each region's field points at its mean position, (3.5, 4.5) and (3.5, 10.5)
    two = torch.where(left, _centroid_field(h, w, 3.5, 4.5), _centroid_field(h, w, 3.5, 10.5))
    shared = _centroid_field(h, w, 3.5, 7.5)  # one centroid on the seam
    for field in (two, shared):
        assert float(irnet_losses(field, torch.zeros(1, h, w), labels, pairs, regions=regions)["loss_disp_fg"]) < 1e-6
    assert float(region_mean_loss(two, regions)) < 1e-6
    # shared: each region's mean of D is (0, +-3) -> |.|_1 = 3 for both regions
    assert abs(float(region_mean_loss(shared, regions)) - 3.0) < 1e-5
    losses = irnet_losses(shared, torch.zeros(1, h, w), labels, pairs, regions=regions, region_mean_weight=0.5)
    assert abs(float(losses["loss_disp_region_mean"]) - 1.5) < 1e-5
    assert "loss_disp_region_mean" not in irnet_losses(shared, torch.zeros(1, h, w), labels, pairs, regions=regions)
    # a batch: regions with equal ids in two images are two regions; no region at all gives 0
    batch = torch.cat([two, shared])
    assert abs(float(region_mean_loss(batch, regions.expand(2, h, w))) - 1.5) < 1e-5
    assert float(region_mean_loss(batch, torch.full((2, h, w), -1))) == 0.0


def test_region_centroid_loss_asks_every_pixel_for_its_regions_centroid():
    h, w = 8, 16
    labels, regions = _touching_squares(h, w)
    pairs = PixelPairs(3)
    left = torch.arange(w) < 8
    two = torch.where(left, _centroid_field(h, w, 3.5, 4.5), _centroid_field(h, w, 3.5, 10.5))
    shared = _centroid_field(h, w, 3.5, 7.5)
    assert float(region_centroid_loss(two, regions)) < 1e-6
    # shared: every pixel's vector is 3 columns off its own region's centroid
    assert abs(float(region_centroid_loss(shared, regions)) - 3.0) < 1e-5
    # D = 0 meets the region-mean term but not this one: mean |c - x|_1 over a 4 x 6 region = 1.0 + 1.5
    zero = torch.zeros(1, 2, h, w)
    assert float(region_mean_loss(zero, regions)) == 0.0
    assert abs(float(region_centroid_loss(zero, regions)) - 2.5) < 1e-5
    losses = irnet_losses(shared, torch.zeros(1, h, w), labels, pairs, regions=regions, region_centroid_weight=2.0)
    assert abs(float(losses["loss_disp_region_centroid"]) - 6.0) < 1e-5
    assert float(region_centroid_loss(torch.cat([two, shared]), regions.expand(2, h, w))) == pytest.approx(1.5)
    assert float(region_centroid_loss(zero, torch.full((1, h, w), -1))) == 0.0


def test_eq5_gives_no_gradient_inside_a_large_object_at_a_constant_field():
    # Why D does not train on 640-px photos: at D = 0 every pixel of an object deeper than the radius has pairs
    # in opposite directions whose L1 subgradients cancel, so Eq. 5 moves D only within the radius of the
    # object's border. A 40 x 40 object (rows/cols 4-43), radius 5: pairs reach 4 cells, so on the core of
    # cells at least 4 from the border (rows/cols 8-39) the gradient is 0.
    h = w = 48
    labels = torch.zeros(1, h, w, dtype=torch.long)
    labels[0, 4:44, 4:44] = 1
    pairs = PixelPairs.get(5)
    pos_fg, pos_bg, _ = pair_sets(labels, pairs)
    d = torch.zeros(1, 2, h, w, requires_grad=True)
    l_fg, _ = displacement_losses(d, pos_fg, pos_bg, pairs)
    l_fg.backward()
    grad = d.grad[0].abs().sum(dim=0)
    moved = grad > 1e-6 * grad.max()  # the core's sums cancel up to float round-off (1e-11)
    assert not moved[8:40, 8:40].any()  # the core: no gradient at all
    assert moved[4:44, 4:44].any() and moved[4, 20]  # the border band moves
    # the region-centroid loss tells every pixel where its region's centroid (23.5, 23.5) is: a gradient on all
    # 1,600 cells (c - x is never 0 on the integer grid)
    d2 = torch.zeros(1, 2, h, w, requires_grad=True)
    regions = torch.where(labels == 1, 0, -1)
    region_centroid_loss(d2, regions).backward()
    inside = d2.grad[0].abs().sum(dim=0) > 0
    assert inside.sum() == 40 * 40 and inside[4:44, 4:44].all()
