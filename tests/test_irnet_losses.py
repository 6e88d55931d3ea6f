"""IRNet losses (Eq. 5, 6, 8) on hand-made relation maps."""
import math

import torch

from irnet_wsis.layers.pixel_pairs import PixelPairs
from irnet_wsis.modeling.irnet_losses import boundary_losses, displacement_losses, irnet_losses, pair_sets


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


def test_eq5_affinity_weights_drop_pairs_across_a_boundary():
    # two touching squares of one class (one relation region), each with its own centroid field
    h, w = 8, 16
    labels = torch.zeros(1, h, w, dtype=torch.long)
    labels[0, 2:6, 2:14] = 1
    pairs = PixelPairs(3)
    fg, bg, _ = pair_sets(labels, pairs)
    two = torch.cat([_centroid_field(h, 8, 3.5, 4.5), _centroid_field(h, 8, 3.5, 3.5)], dim=-1)
    plain, _ = displacement_losses(two, fg, bg, pairs)
    assert float(plain) > 0.1  # the paper's Eq. 5 asks the two squares for one centroid
    boundary = torch.zeros(1, h, w)
    boundary[0, :, 8] = 1.0  # a drawn boundary between them: pairs crossing it get affinity 0
    weights = pairs.affinity(boundary)
    weighted, _ = displacement_losses(two, fg, bg, pairs, fg_weights=weights)
    assert float(weighted) < 1e-6
    ones, _ = displacement_losses(two, fg, bg, pairs, fg_weights=torch.ones_like(weights))
    assert math.isclose(float(ones), float(plain), rel_tol=1e-6)
    losses = irnet_losses(two, boundary, labels, pairs, affinity_weighted_disp=True)
    assert float(losses["loss_disp_fg"]) < 1e-6
