"""IRNet's model options: MODEL.IRNET.TEST_SCALE (IRNet runs on the resized image and hands D, in cells of
the input image, and B back on the input's stride-4 grid), and how far D at a pixel sees."""
import pytest
import torch
from detectron2.config import get_cfg

from irnet_wsis.config import add_irnet_config
from irnet_wsis.modeling.irnet import IRNet
from irnet_wsis.modeling.irnet_heads import DisplacementBranch


def _irnet(test_scale):
    cfg = get_cfg()
    add_irnet_config(cfg)
    cfg.merge_from_file("configs/synthetic/irnet_pseudo.yaml")
    cfg.merge_from_list(["MODEL.DEVICE", "cpu", "MODEL.IRNET.TEST_SCALE", str(test_scale),
                         "MODEL.IRNET.TEST_FLIP", "False"])
    return IRNet(cfg).eval()


def _constant_field(seen):
    def predict(images):
        seen.append(tuple(images.shape[-2:]))
        grid = (-(-images.shape[-2] // 4), -(-images.shape[-1] // 4))
        displacement = torch.tensor([1.0, 2.0]).view(1, 2, 1, 1).expand(images.shape[0], 2, *grid)
        return displacement.clone(), torch.full((images.shape[0], *grid), 0.25)
    return predict


@pytest.mark.parametrize("size, scaled, grid, ratio", [
    ((64, 48), (32, 24), (16, 12), (2.0, 2.0)),
    ((65, 97), (32, 48), (17, 25), (17 / 8, 25 / 12)),
])
def test_half_scale_runs_small_and_returns_the_full_grid_in_full_cells(size, scaled, grid, ratio):
    irnet, seen = _irnet(0.5), []
    irnet.predict = _constant_field(seen)
    with torch.no_grad():
        out = irnet([{"image": torch.zeros(3, *size, dtype=torch.uint8)}])[0]
    assert seen == [scaled]
    assert out["displacement"].shape == (2, *grid) and out["boundary"].shape == grid
    assert torch.allclose(out["displacement"][0], torch.full(grid, 1.0 * ratio[0]))
    assert torch.allclose(out["displacement"][1], torch.full(grid, 2.0 * ratio[1]))
    assert torch.allclose(out["boundary"], torch.full(grid, 0.25))


def test_scale_one_is_the_plain_prediction():
    irnet, seen = _irnet(1.0), []
    irnet.predict = _constant_field(seen)
    with torch.no_grad():
        out = irnet([{"image": torch.zeros(3, 64, 48, dtype=torch.uint8)}])[0]
    assert seen == [(64, 48)] and torch.equal(out["displacement"][1], torch.full((16, 12), 2.0))


def test_non_positive_scale_is_refused():
    with pytest.raises(ValueError, match="TEST_SCALE"):
        _irnet(0.0)


def _drop_group_norm(module):
    for name, child in module.named_children():
        if isinstance(child, torch.nn.GroupNorm):
            setattr(module, name, torch.nn.Identity())
        else:
            _drop_group_norm(child)


def _far_change(cells):
    """How much D at the centre changes when a feature ``cells`` coarse cells away does. GroupNorm is taken out:
    its statistics span the whole map, so with it every output depends a little on every input."""
    torch.manual_seed(0)
    branch = DisplacementBranch([8, 8, 8], channels=8, gn_groups=2).eval()
    _drop_group_norm(branch)
    levels = [torch.rand(1, 8, 32, 32), torch.rand(1, 8, 16, 16), torch.rand(1, 8, 16, 16)]
    moved = [x.clone() for x in levels]
    moved[2][0, :, 8, 8 + cells] += 5.0  # coarsest level, right of (8, 8)
    with torch.no_grad():
        a, b = branch(levels), branch(moved)
    return (a[0, :, 16, 16] - b[0, :, 16, 16]).abs().max().item()


def test_paper_branch_is_pixelwise():
    # 1x1 convs + a bilinear x2: D at fine (16, 16) reads coarse cells 7 and 8 of each axis only
    assert _far_change(0) > 0.0
    assert _far_change(2) == 0.0 and _far_change(6) == 0.0


def test_displacement_branch_keeps_the_finest_grid():
    branch = DisplacementBranch([8, 8, 8], channels=8, gn_groups=2)
    out = branch([torch.rand(2, 8, 17, 25), torch.rand(2, 8, 9, 13), torch.rand(2, 8, 9, 13)])
    assert out.shape == (2, 2, 17, 25)


def test_inference_of_a_batch_equals_one_image_at_a_time():
    """Stage irnet_outputs runs images of one size (and their flips) as one batch: the same D and B as one image
    (and its flip) at a time."""
    cfg = get_cfg()
    add_irnet_config(cfg)
    cfg.merge_from_file("configs/synthetic/irnet_pseudo.yaml")
    cfg.merge_from_list(["MODEL.DEVICE", "cpu", "MODEL.BFLOAT16", "False"])
    torch.manual_seed(0)
    irnet = IRNet(cfg).eval()
    images = [torch.randint(0, 255, (3, 40, 56), dtype=torch.uint8) for _ in range(3)]
    with torch.no_grad():
        batched = irnet([{"image": im} for im in images])
        single = [irnet([{"image": im}])[0] for im in images]
    assert len(batched) == 3
    for b, s in zip(batched, single):
        assert b["displacement"].shape == (2, 10, 14) and b["boundary"].shape == (10, 14)
        torch.testing.assert_close(b["displacement"], s["displacement"], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(b["boundary"], s["boundary"], atol=1e-5, rtol=1e-5)
    # the flip's B is averaged in: a left-right symmetric image gives a symmetric B
    symmetric = torch.cat([images[0][..., :28], images[0][..., :28].flip(-1)], dim=-1)
    with torch.no_grad():
        boundary = irnet([{"image": symmetric}])[0]["boundary"]
    torch.testing.assert_close(boundary, boundary.flip(-1), atol=1e-5, rtol=1e-5)
