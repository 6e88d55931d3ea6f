"""MODEL.IRNET.TEST_SCALE: IRNet runs on the resized image and hands D (in cells of the input image) and B
back on the input's stride-4 grid."""
import pytest
import torch
from detectron2.config import get_cfg

from irnet_wsis.config import add_irnet_config
from irnet_wsis.modeling.irnet import IRNet


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
