"""Sparse random walk (Eq. 12-13) against the dense matrix and on a chain with a boundary."""
import torch

from irnet_wsis.layers.pixel_pairs import PixelPairs
from irnet_wsis.pseudo.random_walk import propagate, random_walk, transition_operator


def _dense_transition(b, radius, beta):
    h, w = b.shape
    pairs = PixelPairs(radius)
    aff = pairs.affinity(b[None])[0]
    a = torch.eye(h * w, dtype=torch.float64)
    for k, (dy, dx) in enumerate(pairs.offsets.tolist()):
        for y in range(h):
            for x in range(w):
                if 0 <= y + dy < h and 0 <= x + dx < w:
                    v = float(aff[k, y, x]) ** beta
                    a[y * w + x, (y + dy) * w + x + dx] = v
                    a[(y + dy) * w + x + dx, y * w + x] = v
    return a / a.sum(dim=1, keepdim=True)


def test_sparse_equals_dense_on_small_grids():
    torch.manual_seed(0)
    for h, w, radius in ((6, 7, 3), (9, 8, 5)):
        b = torch.rand(h, w) * 0.5
        dense = _dense_transition(b, radius, 10)
        sparse = transition_operator(b, radius, 10)
        assert torch.allclose(sparse.to_dense().double(), dense, atol=1e-6)
        x = torch.rand(3, h, w)
        got = propagate(sparse, x, steps=64).double()
        want = (torch.linalg.matrix_power(dense, 64) @ x.reshape(3, -1).t().double()).t().reshape(3, h, w)
        assert (got - want).abs().max() < 1e-4


def test_chain_propagation_stops_at_boundary():
    n = 20
    b = torch.zeros(1, n)
    b[0, 10] = 1.0  # a boundary pixel in the middle of a 1 x 20 chain
    x = torch.zeros(1, 1, n)
    x[0, 0, 2] = 1.0  # a seed on the left
    out = random_walk(x, b, radius=3, beta=10, steps=256)[0, 0]
    assert out[11:].abs().max() < 1e-6  # nothing crosses the boundary
    # left side (pixels 0..9, pairs at distance 1 and 2) reaches the degree-weighted mean of the seed:
    # degrees 3, 4, 5 x 6, 4, 3 (self included) -> 5 / 44 everywhere
    assert torch.allclose(out[:10], torch.full((10,), 5 / 44), atol=1e-4)


def test_rows_sum_to_one_and_no_dense_matrix():
    b = torch.rand(16, 16) * 0.2
    t = transition_operator(b, 5, 10)
    assert t.layout == torch.sparse_csr
    assert t._nnz() <= 16 * 16 * 69
    ones = torch.ones(16 * 16, 1)
    assert torch.allclose(t @ ones, ones, atol=1e-5)
