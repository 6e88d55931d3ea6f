"""Displacement field -> instances (Eq. 10, centroids, assignment)."""
import pytest
import torch

from irnet_wsis.pseudo.instances import (
    centroid_components, instance_map, landing_cells, landing_components, refine_displacement,
)


def _field_to(h, w, centres, regions):
    """D pointing every pixel of region k at centre k (exact centroid field)."""
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    d = torch.zeros(2, h, w)
    for (cy, cx), region in zip(centres, regions):
        d[0][region] = (cy - ys)[region]
        d[1][region] = (cx - xs)[region]
    return d


def test_refinement_converges_to_centroids():
    h, w = 12, 20
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    left, right = xs < 10, xs >= 10
    exact = _field_to(h, w, [(6, 4), (6, 15)], [left, right])
    # a field that only goes half way: refinement must walk the rest
    half = exact * 0.5
    refined = refine_displacement(half, iterations=100)
    landing_y = ys + refined[0]
    landing_x = xs + refined[1]
    assert torch.all((landing_y[left] - 6).abs() <= 1) and torch.all((landing_x[left] - 4).abs() <= 1)
    assert torch.all((landing_y[right] - 6).abs() <= 1) and torch.all((landing_x[right] - 15).abs() <= 1)
    inst, k = instance_map(half, iterations=100, centroid_threshold=2.5)
    assert k == 2
    assert len(set(inst[left].tolist())) == 1 and len(set(inst[right].tolist())) == 1
    assert inst[left][0] != inst[right][0]


def test_two_touching_squares_with_opposite_fields_give_two_instances():
    h, w = 10, 20
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    left = (xs < 10) & (ys >= 1) & (ys < 9)
    right = (xs >= 10) & (ys >= 1) & (ys < 9)
    d = _field_to(h, w, [(4.5, 4.5), (4.5, 14.5)], [left, right])
    inst, k = instance_map(d, iterations=100, centroid_threshold=1.0)
    assert k >= 2
    assert len(set(inst[left].tolist())) == 1 and len(set(inst[right].tolist())) == 1
    assert inst[left][0] != inst[right][0]


def test_mean_subtraction_and_no_centroid():
    d = torch.full((2, 6, 6), 10.0)
    inst, k = instance_map(d, centroid_threshold=2.5)
    assert k == 1 and torch.all(inst == 0)
    inst, k = instance_map(d, centroid_threshold=2.5, mean_displacement=torch.tensor([10.0, 10.0]))
    assert k == 1 and torch.all(inst == 0)  # all pixels are one centroid component


def test_centroid_candidates_touching_at_a_corner_are_two_groups_4_connected_and_one_8_connected():
    d = torch.full((2, 5, 5), 5.0)
    d[:, 1, 1] = 0
    d[:, 2, 2] = 0  # touches (1, 1) at a corner only
    d[:, 4, 4] = 0
    labels, k = centroid_components(d, 1.0)  # 4-connected: the authors' code
    assert k == 3 and len({labels[1, 1], labels[2, 2], labels[4, 4]}) == 3
    labels, k = centroid_components(d, 1.0, connectivity=8)
    assert k == 2 and labels[1, 1] == labels[2, 2] != labels[4, 4]


def test_landing_groups_touching_at_a_corner_are_two_centroids_4_connected_and_one_8_connected():
    # half the pixels of a 8x8 grid land on (2, 2), the rest on (5, 5): each landing cell's mass spreads over
    # its 3x3 window, so the groups are the squares rows/cols 1-3 and 4-6, which meet at the corner (3,3)-(4,4)
    h = w = 8
    first = torch.arange(h * w).view(h, w) < 32
    ty = torch.where(first, 2, 5)
    tx = torch.where(first, 2, 5)
    weights = torch.ones(h, w)
    labels, k = landing_components((ty, tx), weights, min_mass=2.0)
    assert k == 2 and labels[3, 3] != labels[4, 4] and labels[3, 3] > 0 and labels[4, 4] > 0
    assert (labels > 0).sum() == 18
    labels, k = landing_components((ty, tx), weights, min_mass=2.0, connectivity=8)
    assert k == 1 and (labels > 0).sum() == 18
    with pytest.raises(ValueError, match="4 or 8"):
        landing_components((ty, tx), weights, connectivity=6)


def test_bilinear_and_rounded_reads_of_d_land_differently():
    # one row, D along x: 2.4 at x=0, 1 at x=3, 0 elsewhere.
    # rounded reads: 0 -> 2.4, D(round 2.4 = 2) = 0: stays at 2.4, lands in cell 2.
    # bilinear reads: 0 -> 2.4 -> + (0.6 D(2) + 0.4 D(3)) = 2.8 -> + 0.8 D(3) = 3.6 -> + 0.4 D(3) = 4.0,
    # D(4) = 0: lands in cell 4. Pixel 3 goes to 4 both ways; the others stay.
    d = torch.zeros(2, 1, 6)
    d[1, 0, 0], d[1, 0, 3] = 2.4, 1.0
    xs = torch.arange(6).float()
    bilinear = refine_displacement(d, iterations=10)  # the authors' code
    assert (xs + bilinear[1, 0]).tolist() == pytest.approx([4.0, 1.0, 2.0, 4.0, 4.0, 5.0], abs=1e-5)
    assert torch.all(bilinear[0] == 0)
    rounded = refine_displacement(d, iterations=10, sampling="nearest")
    assert (xs + rounded[1, 0]).tolist() == pytest.approx([2.4, 1.0, 2.0, 4.0, 4.0, 5.0], abs=1e-5)
    assert landing_cells(bilinear)[1][0].tolist() == [4, 1, 2, 4, 4, 5]
    assert landing_cells(rounded)[1][0].tolist() == [2, 1, 2, 4, 4, 5]
    # the points are clamped to the grid at every step (bilinear): a field pointing out stops at the border
    out = torch.zeros(2, 1, 6)
    out[1] = 10.0
    assert torch.all(refine_displacement(out, iterations=3)[1, 0] == 5 - xs)


def _refine_step_by_step(d, iterations):
    """Eq. 10 with bilinear reads, every step taken: four corner reads, clamped to the grid."""
    _, h, w = d.shape
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    py, px = ys.clone(), xs.clone()
    for _ in range(iterations):
        y0, x0 = py.floor().long(), px.floor().long()
        y1, x1 = (y0 + 1).clamp(max=h - 1), (x0 + 1).clamp(max=w - 1)
        wy, wx = py - y0, px - x0
        step = ((1 - wy) * ((1 - wx) * d[:, y0, x0] + wx * d[:, y0, x1])
                + wy * ((1 - wx) * d[:, y1, x0] + wx * d[:, y1, x1]))
        py, px = (py + step[0]).clamp(0, h - 1), (px + step[1]).clamp(0, w - 1)
    return torch.stack([py - ys, px - xs])


def test_refinement_equals_every_step_taken_and_stops_once_at_rest():
    torch.manual_seed(3)
    # a field that comes to rest (zero inside a ring around two centres) and one that never does (noise)
    resting = _field_to(9, 13, [(4, 3), (4, 9)], [torch.ones(9, 13, dtype=torch.bool) & (torch.arange(13) < 6),
                                                   torch.ones(9, 13, dtype=torch.bool) & (torch.arange(13) >= 6)])
    for d in (resting, torch.randn(2, 7, 11) * 2.0):
        for iterations in (1, 7, 100):
            assert torch.equal(refine_displacement(d, iterations), _refine_step_by_step(d, iterations))
    # at rest after a few steps: 100 and 1,000 steps give the same points
    assert torch.equal(refine_displacement(resting, 100), refine_displacement(resting, 1000))


def _two_small_discs():
    """Two discs of radius 2 cells (13 pixels each) on a 12 x 20 grid, exact centroid field, 0 elsewhere."""
    ys, xs = torch.meshgrid(torch.arange(12).float(), torch.arange(20).float(), indexing="ij")
    left = (ys - 5) ** 2 + (xs - 5) ** 2 <= 4
    right = (ys - 5) ** 2 + (xs - 14) ** 2 <= 4
    return _field_to(12, 20, [(5, 5), (5, 14)], [left, right]), left, right


def _assert_two_instances(inst, k, left, right):
    assert k == 2
    assert len(set(inst[left].tolist())) == 1 and len(set(inst[right].tolist())) == 1
    assert inst[left][0] != inst[right][0]


def test_paper_rule_merges_small_objects_through_the_background_component():
    # with the paper's rule (candidates anywhere) the discs' centres join the background's |D| < 2.5
    # component and both objects share one instance (why the landing rule exists)
    d, left, right = _two_small_discs()
    inst, k = instance_map(d, iterations=10, centroid_threshold=2.5)
    assert k == 1 and inst[left][0] == inst[right][0]


def test_landing_rule_finds_small_objects_and_no_background_centroid():
    # the discs' pixels land on their centres with CAM mass 13 each; background pixels stay put with
    # CAM 0, so no centroid appears there
    d, left, right = _two_small_discs()
    cam = (left | right).float()
    labels, k = landing_components(landing_cells(refine_displacement(d, 10)), cam, min_mass=2.0)
    assert k == 2
    assert labels[5, 5] > 0 and labels[5, 14] > 0 and labels[5, 5] != labels[5, 14]
    assert labels[0, 0] == 0 and (labels > 0).sum() == 18  # two 3x3 groups (mass spread over a 3x3 window)
    # too little mass: no centroid at all
    assert landing_components(landing_cells(refine_displacement(d, 10)), cam, min_mass=20.0)[1] == 0
    _assert_two_instances(*instance_map(d, iterations=10, landing_weights=cam, min_landing_mass=2.0), left, right)


def test_min_norm_stops_the_drift_of_a_small_background_field():
    h, w = 8, 16
    drift = torch.zeros(2, h, w)
    drift[1] = 0.2  # a fifth of a cell to the right: never leaves its cell in one step
    cam = torch.full((h, w), 0.3)
    refined = refine_displacement(drift, iterations=100)
    assert torch.all(landing_cells(refined)[1] == w - 1)  # summed 100 times, it carries every pixel to the edge
    assert landing_components(landing_cells(refined), cam, min_mass=2.0)[1] == 1  # a false centroid there
    still = refine_displacement(drift, iterations=100, min_norm=0.5)
    assert torch.equal(still, torch.zeros(2, h, w))
    assert landing_components(landing_cells(still), cam, min_mass=2.0)[1] == 0

    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    left, right = xs < 8, xs >= 8
    exact = _field_to(h, w, [(4, 3), (4, 12)], [left, right])  # |D| < 0.5 only at the centres themselves
    inst, k = instance_map(exact, iterations=100, landing_weights=cam, min_landing_mass=2.0, min_norm=0.5)
    assert k == 2 and len(set(inst[left].tolist())) == 1 and inst[left][0] != inst[right][0]
