import pytest
import torch
from detectron2.config import get_cfg
from detectron2.layers import ROIAlign
from detectron2.modeling import build_model
from torchvision.ops import roi_align

from irnet_wsis.layers import SeparableROIAlign, separable_roi_align, use_separable_roi_align
from irnet_wsis.layers.roi_align import axis_weights


def _ramp(height=6, width=8):
    """(1, 1, H, W) features x + 10 y: bilinear sampling of a linear ramp returns the ramp at the sample."""
    y, x = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32),
                          indexing="ij")
    return (x + 10 * y)[None, None]


def test_ramp_bins_are_the_ramp_at_their_centres():
    """A box inside the map, aligned (cell centres at integer + 0.5 pixels): each bin averages samples placed
    symmetrically about its centre, so on a ramp it is the ramp at the bin's centre, minus the half-cell shift."""
    box = torch.tensor([[0.0, 1.0, 2.0, 5.0, 4.0]])  # x 1..5, y 2..4 pixels
    out = separable_roi_align(_ramp(), box, (2, 2), 1.0, 2, True)
    # bin centres: x 2.0, 4.0; y 2.5, 3.5 pixels -> cells x 1.5, 3.5, y 2.0, 3.0
    expected = torch.tensor([[1.5 + 20.0, 3.5 + 20.0], [1.5 + 30.0, 3.5 + 30.0]])
    torch.testing.assert_close(out[0, 0], expected)


def test_axis_weights_of_one_sample_between_two_cells():
    """One bin, one sample at cell 1.25: weight 0.75 on cell 1, 0.25 on cell 2; a sample past the last cell
    (within one cell) takes the last cell's value; a sample more than one cell outside weighs nothing."""
    w = axis_weights(torch.tensor([0.75, 3.2, 3.6, -3.0]), torch.tensor([1.0, 1.0, 1.0, 1.0]), 1, 4, 1)
    torch.testing.assert_close(w[0, 0], torch.tensor([0.0, 0.75, 0.25, 0.0]))
    torch.testing.assert_close(w[1, 0], torch.tensor([0.0, 0.0, 0.0, 1.0]))  # sample at 3.7
    torch.testing.assert_close(w[2, 0], torch.zeros(4))  # sample at 4.1 > size 4
    torch.testing.assert_close(w[3, 0], torch.zeros(4))  # sample at -2.5 < -1


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("sampling_ratio", [0, 1, 2])
def test_matches_torchvision_values_and_gradients(aligned, sampling_ratio):
    """Boxes inside, across the border, outside, of zero size, on three images and two scales: the same outputs
    and input gradients as torchvision's kernel."""
    torch.manual_seed(0)
    for scale in (1.0, 0.25):
        x = torch.randn(3, 4, 7, 9, requires_grad=True)
        height, width = 7 / scale, 9 / scale
        start = torch.rand(24, 2) * torch.tensor([width, height]) * 1.6 - 2 / scale
        size = torch.rand(24, 2) * torch.tensor([width, height]) * 0.8
        size[:4] = 0.0
        boxes = torch.cat([torch.randint(0, 3, (24, 1)).float(), start, start + size], 1)
        grad = torch.randn(24, 4, 3, 5)
        theirs = roi_align(x, boxes, (3, 5), scale, sampling_ratio, aligned)
        (their_grad,) = torch.autograd.grad(theirs, x, grad)
        ours = separable_roi_align(x, boxes, (3, 5), scale, sampling_ratio, aligned)
        (our_grad,) = torch.autograd.grad(ours, x, grad)
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(our_grad, their_grad, atol=1e-5, rtol=1e-5)


def test_module_trains_separably_and_infers_with_torchvision():
    layer = SeparableROIAlign((2, 2), 0.5, 0, True)
    reference = ROIAlign((2, 2), 0.5, 0, True)
    x = torch.randn(2, 3, 5, 5, requires_grad=True)
    boxes = torch.tensor([[1.0, 0.0, 0.0, 6.0, 8.0], [0.0, 2.0, 1.0, 9.0, 9.0]])
    trained = layer(x, boxes)
    assert trained.grad_fn is not None and "RoiAlign" not in type(trained.grad_fn).__name__
    torch.testing.assert_close(trained, reference(x, boxes), atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(layer(x, boxes), reference(x, boxes))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # products stay float32 inside autocast
        torch.testing.assert_close(layer(x, boxes), trained)
    empty = layer(x, torch.zeros(0, 5))
    assert empty.shape == (0, 3, 2, 2)


def test_use_separable_roi_align_swaps_every_pooler_of_a_mask_rcnn():
    cfg = get_cfg()
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
    cfg.MODEL.BACKBONE.NAME = "build_resnet_fpn_backbone"
    cfg.MODEL.RESNETS.DEPTH = 18
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64
    cfg.MODEL.RESNETS.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.FPN.IN_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.ROI_HEADS.NAME = "StandardROIHeads"
    cfg.MODEL.ROI_HEADS.IN_FEATURES = ["p2", "p3", "p4", "p5"]
    cfg.MODEL.ROI_BOX_HEAD.NAME = "FastRCNNConvFCHead"
    cfg.MODEL.ROI_BOX_HEAD.NUM_FC = 2
    cfg.MODEL.ROI_BOX_HEAD.POOLER_TYPE = "ROIAlignV2"
    cfg.MODEL.MASK_ON = True
    cfg.MODEL.ROI_MASK_HEAD.NAME = "MaskRCNNConvUpsampleHead"
    cfg.MODEL.ROI_MASK_HEAD.POOLER_TYPE = "ROIAlignV2"
    cfg.MODEL.RPN.IN_FEATURES = ["p2", "p3", "p4", "p5", "p6"]
    cfg.MODEL.ANCHOR_GENERATOR.SIZES = [[32], [64], [128], [256], [512]]
    model = build_model(cfg)
    assert use_separable_roi_align(model) == 8  # box and mask poolers, 4 levels each
    poolers = [m for m in model.modules() if isinstance(m, ROIAlign)]
    assert len(poolers) == 8 and all(type(m) is SeparableROIAlign for m in poolers)
    assert poolers[0].sampling_ratio == 0 and poolers[0].aligned
    assert use_separable_roi_align(model) == 0
