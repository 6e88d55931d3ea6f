"""Pixel pairs within a radius (Eq. 2) and the path affinity of Eq. 7."""
import torch

from irnet_wsis.layers.pixel_pairs import PixelPairs, pair_offsets, path_offsets


def _brute_force_pairs(radius):
    out = set()
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if (dy, dx) != (0, 0) and dy * dy + dx * dx < radius * radius:
                out.add(frozenset({(dy, dx), (-dy, -dx)}))  # a direction up to sign
    return out


def test_pair_counts_match_brute_force():
    for radius, expected in ((5, 34), (10, 152)):
        offsets = pair_offsets(radius)
        assert len(offsets) == expected
        # each unordered pair {i, i + d} exactly once
        got = [frozenset({(dy, dx), (-dy, -dx)}) for dy, dx in offsets.tolist()]
        assert len(set(got)) == len(got)
        assert set(got) == _brute_force_pairs(radius)


def test_pair_count_on_grid_matches_enumeration():
    h, w, radius = 7, 9, 5
    pairs = PixelPairs(radius)
    brute = 0
    for y in range(h):
        for x in range(w):
            for y2 in range(h):
                for x2 in range(w):
                    if (y, x) < (y2, x2) and (y - y2) ** 2 + (x - x2) ** 2 < radius * radius:
                        brute += 1
    assert int(pairs.valid_mask(h, w).sum()) == brute


def test_paths():
    assert path_offsets((0, 3)).tolist() == [[0, 0], [0, 1], [0, 2], [0, 3]]
    assert path_offsets((3, 0)).tolist() == [[0, 0], [1, 0], [2, 0], [3, 0]]
    assert sorted(path_offsets((2, 2)).tolist()) == [[0, 0], [0, 1], [1, 0], [1, 1], [1, 2], [2, 1], [2, 2]]


def test_neighbor_values_against_loop():
    x = torch.arange(20.0).view(4, 5)
    pairs = PixelPairs(3)
    out = pairs.neighbor_values(x, fill=-1.0)
    for k, (dy, dx) in enumerate(pairs.offsets.tolist()):
        for y in range(4):
            for xx in range(5):
                inside = 0 <= y + dy < 4 and 0 <= xx + dx < 5
                assert out[k, y, xx] == (x[y + dy, xx + dx] if inside else -1.0)


def test_affinity_across_a_drawn_boundary_line():
    h, w, col = 12, 12, 6
    b = torch.zeros(1, h, w)
    b[0, :, col] = 1.0
    pairs = PixelPairs(5)
    aff = pairs.affinity(b)[0]
    valid = pairs.valid_mask(h, w)
    xs = torch.arange(w).view(1, 1, w).expand(len(pairs), h, w)
    x2 = xs + pairs.offsets[:, 1].view(-1, 1, 1)
    crosses = ((xs <= col) & (x2 >= col)) | ((xs >= col) & (x2 <= col))
    assert torch.all(aff[valid & crosses] == 0)
    assert torch.all(aff[valid & ~crosses] == 1)


def test_path_max_is_max_over_path():
    torch.manual_seed(0)
    b = torch.rand(1, 8, 8)
    pairs = PixelPairs(4)
    got = pairs.path_max(b)[0]
    for k, d in enumerate(pairs.offsets.tolist()):
        path = path_offsets(d).tolist()
        for y in range(8):
            for x in range(8):
                vals = [b[0, y + py, x + px] for py, px in path if 0 <= y + py < 8 and 0 <= x + px < 8]
                assert torch.isclose(got[k, y, x], torch.stack(vals).max())


def test_path_max_gradient_matches_stacked_max():
    torch.manual_seed(1)
    b = torch.rand(2, 7, 9, requires_grad=True)
    pairs = PixelPairs(4)
    weights = torch.rand(2, len(pairs), 7, 9)
    (pairs.path_max(b) * weights).sum().backward()
    got = b.grad.clone()
    b.grad = None
    # reference: the whole (N, P, L, h, w) stack, reduced by amax
    table = pairs._shift_stack(b, pairs.path_table, float("-inf"))
    ref = torch.stack([table[:, pairs.path_index[:, k]] for k in range(pairs.path_index.shape[1])], dim=2).amax(dim=2)
    (ref * weights).sum().backward()
    assert torch.allclose(got, b.grad, atol=1e-5)
    assert torch.equal(pairs.path_max(b.detach()), ref.detach())


def test_path_max_in_chunks_of_directions_equals_one_block():
    torch.manual_seed(2)
    b = (torch.rand(3, 9, 11) * 4).round() / 4  # ties: the first arg-max on the path takes the gradient
    b.requires_grad_(True)
    pairs = PixelPairs(6)
    weights = torch.rand(3, len(pairs), 9, 11)
    grads, values = [], []
    for chunk in (1 << 24, 1, 5000):  # one block, one direction at a time, a few directions at a time
        out = pairs.path_max(b, chunk_elements=chunk)
        (out * weights).sum().backward()
        values.append(out.detach())
        grads.append(b.grad.clone())
        b.grad = None
    for v, g in zip(values[1:], grads[1:]):
        assert torch.equal(v, values[0]) and torch.equal(g, grads[0])


def test_path_lengths_and_first_arg_max_gradient_with_ties():
    """Directions are reduced in groups of one path length: the values, and the gradient sent to the first
    maximum along each path (in path order), as a loop over every pair computes them."""
    torch.manual_seed(3)
    pairs = PixelPairs(5)
    assert pairs.path_lengths.tolist() == [len(path_offsets(d)) for d in pairs.offsets.tolist()]
    h, w = 6, 7
    b = ((torch.rand(1, h, w) * 3).round() / 3).requires_grad_(True)  # many ties
    weights = torch.rand(1, len(pairs), h, w)
    out = pairs.path_max(b)
    (out * weights).sum().backward()
    expected_grad = torch.zeros(h, w)
    for k, d in enumerate(pairs.offsets.tolist()):
        path = path_offsets(d).tolist()
        for y in range(h):
            for x in range(w):
                inside = [(y + py, x + px) for py, px in path if 0 <= y + py < h and 0 <= x + px < w]
                values = [float(b[0, p, q]) for p, q in inside]
                first = inside[values.index(max(values))]
                assert out[0, k, y, x] == max(values)
                expected_grad[first] += weights[0, k, y, x]
    torch.testing.assert_close(b.grad[0], expected_grad)
