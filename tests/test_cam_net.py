"""CAMNet: output stride 16, Eq. 1, multi-scale/flip merge."""
import os
import tempfile

import pytest
import torch
from detectron2.config import get_cfg
from detectron2.layers import ShapeSpec
from detectron2.modeling import Backbone, build_backbone

from irnet_wsis.config import add_irnet_config
from irnet_wsis.modeling import backbone as _backbone  # noqa: F401  registers the backbone
from irnet_wsis.errors import BadInputError
from irnet_wsis.modeling.backbone_weights import backbone_mismatch, load_cam_backbone
from irnet_wsis.modeling.cam_inference import multiscale_cams
from irnet_wsis.modeling.cam_net import CAMNet, normalize_cams


def _cfg(depth=18):
    cfg = get_cfg()
    add_irnet_config(cfg)
    cfg.merge_from_file("configs/Base-IRNet.yaml")
    cfg.MODEL.RESNETS.DEPTH = depth
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64 if depth in (18, 34) else 256
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.CAM.NUM_CLASSES = 3
    return cfg


def test_output_stride_16_for_odd_sizes():
    for depth in (18, 50):
        backbone = build_backbone(_cfg(depth))
        assert backbone.output_shape()["res5"].stride == 16
        x = torch.zeros(1, 3, 97, 131)
        out = backbone(x)
        assert out["res5"].shape[-2:] == (7, 9)  # ceil(97/16), ceil(131/16)
        assert out["stem"].shape[-2:] == (25, 33)  # ceil(/4): the stride-4 grid


def test_output_stride_8_with_res4_stride_1():
    cfg = _cfg(18)
    cfg.MODEL.RESNETS.RES4_STRIDE = 1
    backbone = build_backbone(cfg)
    assert backbone.output_shape()["res4"].stride == 8 and backbone.output_shape()["res5"].stride == 8
    out = backbone(torch.zeros(1, 3, 97, 131))
    assert out["res4"].shape[-2:] == out["res5"].shape[-2:] == (13, 17)  # ceil(97/8), ceil(131/8)
    assert out["res3"].shape[-2:] == (13, 17)


class _FixedFeatures(Backbone):
    """A stub backbone returning a hand-built 2-channel feature map."""

    def __init__(self, feature):
        super().__init__()
        self.feature = feature

    def forward(self, x):
        return {"res5": self.feature.expand(x.shape[0], -1, -1, -1)}

    def output_shape(self):
        return {"res5": ShapeSpec(channels=2, stride=16)}


def test_eq1_normalisation_and_absent_classes():
    feature = torch.zeros(1, 2, 2, 3)
    feature[0, 0] = torch.tensor([[1.0, 2.0, 4.0], [0.0, 0.0, 0.0]])
    feature[0, 1] = torch.tensor([[0.0, 0.0, 0.0], [3.0, 0.0, 6.0]])
    model = CAMNet(backbone=_FixedFeatures(feature), in_feature="res5", num_classes=3,
                   pixel_mean=[0.0, 0.0, 0.0], pixel_std=[1.0, 1.0, 1.0])
    with torch.no_grad():
        model.classifier.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]]).view(3, 2, 1, 1))
    model.eval()
    out = model([{"image": torch.zeros(3, 32, 48, dtype=torch.uint8), "labels": torch.tensor([1.0, 1.0, 0.0])}])
    cams = out[0]["cams"]
    assert torch.allclose(cams[0], torch.tensor([[0.25, 0.5, 1.0], [0.0, 0.0, 0.0]]), atol=1e-4)
    assert torch.allclose(cams[1], torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, 1.0]]), atol=1e-4)
    assert torch.all(cams[2] == 0)  # absent class
    # ReLU: negative evidence is clipped before the max normalisation
    raw = torch.tensor([[[[-1.0, 2.0]]]])
    assert torch.allclose(normalize_cams(raw.clamp(min=0)), torch.tensor([[[[0.0, 1.0]]]]), atol=1e-4)


def test_flip_multiscale_merge_is_symmetric_for_symmetric_input():
    torch.manual_seed(0)
    cfg = _cfg(18)
    model = CAMNet(cfg).eval()
    image = torch.randint(0, 255, (3, 40, 30), dtype=torch.uint8)
    image = torch.cat([image, image.flip(-1)], dim=-1)  # left-right symmetric 40 x 60 image
    cam4, cam_full, classes = multiscale_cams(model, image, torch.tensor([0, 2]), scales=(1.0, 0.5, 1.5), flip=True)
    assert cam4.shape == (2, 10, 15) and cam_full.shape == (2, 40, 60)
    assert torch.allclose(cam_full, cam_full.flip(-1), atol=1e-5)
    assert torch.allclose(cam4, cam4.flip(-1), atol=1e-5)
    assert torch.all(cam_full <= 1.0) and torch.all(cam_full.flatten(1).max(1).values > 0.9)


def test_gap_pooling_equals_classifying_the_averaged_features():
    torch.manual_seed(0)
    feature = torch.randn(1, 2, 3, 4)
    model = CAMNet(backbone=_FixedFeatures(feature), in_feature="res5", num_classes=3,
                   pixel_mean=[0.0, 0.0, 0.0], pixel_std=[1.0, 1.0, 1.0]).eval()
    out = model([{"image": torch.zeros(3, 48, 64, dtype=torch.uint8)}])
    expected = torch.sigmoid(model.classifier(feature.mean(dim=(2, 3), keepdim=True)).flatten())
    assert torch.allclose(out[0]["scores"], expected, atol=1e-6)


def _detector_cfg(res5_channels=0):
    """ResNet-18 at the detector's strides (res5 at 32), all four stages out, the FPN on them."""
    cfg = _cfg(18)
    cfg.MODEL.RESNETS.RES5_STRIDE = 2
    cfg.MODEL.RESNETS.RES5_OUT_CHANNELS = res5_channels
    cfg.MODEL.RESNETS.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.FPN.IN_FEATURES = ["res2", "res3", "res4", "res5"]
    return cfg


def _cam_checkpoint(folder, res5_channels, res4_stride=1):
    """A CAM network's ResNet-18 backbone (random weights) and the CAMNet-style checkpoint saved in ``folder``."""
    cfg = _cfg(18)
    cfg.MODEL.RESNETS.RES4_STRIDE = res4_stride
    cfg.MODEL.RESNETS.RES5_OUT_CHANNELS = res5_channels
    backbone = build_backbone(cfg)
    path = os.path.join(folder, "model_final.pth")
    torch.save({"model": {f"backbone.{k}": v for k, v in backbone.state_dict().items()}}, path)
    return backbone, path


def test_res5_out_channels_narrows_res5_only():
    cfg = _cfg(18)
    cfg.MODEL.RESNETS.RES4_STRIDE = 1
    cfg.MODEL.RESNETS.RES5_OUT_CHANNELS = 256
    backbone = build_backbone(cfg)
    shapes = backbone.output_shape()
    assert shapes["res4"].channels == 256 and shapes["res5"].channels == 256 and shapes["res5"].stride == 8
    assert backbone(torch.zeros(1, 3, 33, 40))["res5"].shape == (1, 256, 5, 5)
    bottleneck = _cfg(50)
    bottleneck.MODEL.RESNETS.RES5_OUT_CHANNELS = 1024
    res5 = build_backbone(bottleneck).res5
    assert res5[0].conv3.out_channels == 1024 and res5[0].conv2.out_channels == 256  # 512 * 1024 / 2048


@pytest.mark.parametrize("res5_channels", [128, 256])  # narrower than res4 (a projection), as wide (none)
def test_fpn_on_the_cam_resnet_loads_its_weights(res5_channels):
    """A CAM network's backbone (stride 8, narrow res5) loads strictly into the FPN detector's ResNet (stride 32)."""
    det_cfg = _detector_cfg(res5_channels)
    det_cfg.MODEL.BACKBONE.NAME = "build_irnet_resnet_fpn_backbone"
    fpn = build_backbone(det_cfg)
    assert {k: v.stride for k, v in fpn.output_shape().items()} == {"p2": 4, "p3": 8, "p4": 16, "p5": 32, "p6": 64}
    with tempfile.TemporaryDirectory() as tmp:
        cam_backbone, path = _cam_checkpoint(tmp, res5_channels)
        load_cam_backbone(fpn.bottom_up, path)
    assert torch.equal(fpn.bottom_up.res5[1].conv2.weight, cam_backbone.res5[1].conv2.weight)
    features = fpn.bottom_up(torch.rand(1, 3, 70, 64))
    assert features["res5"].shape == (1, res5_channels, 3, 2)  # ceil(70 / 32), 64 / 32


def test_cam_backbone_of_another_width_is_refused_in_one_line():
    """A CAM network with res5 at 128 channels into a detector at ResNet-18's 512: BadInputError naming both widths."""
    det_cfg = _detector_cfg()
    det_cfg.MODEL.BACKBONE.NAME = "build_irnet_resnet_fpn_backbone"
    fpn = build_backbone(det_cfg)
    with tempfile.TemporaryDirectory() as tmp:
        _, path = _cam_checkpoint(tmp, 128, res4_stride=2)
        with pytest.raises(BadInputError, match=r"model_final\.pth: .*res5\.0\.shortcut\.weight is 128x256x1x1 in "
                           r"the checkpoint, 512x256x1x1 here; res5 width 128 in the checkpoint, 512 here\); set "
                           r"MODEL\.RESNETS .*RES5_OUT_CHANNELS"):
            load_cam_backbone(fpn.bottom_up, path)


def test_backbone_mismatch_on_hand_made_state_dicts():
    conv = torch.zeros(4, 2, 3, 3)
    expected = {"stem.conv1.weight": conv, "res5.0.conv1.weight": conv}
    assert backbone_mismatch(expected, dict(expected)) == ""
    assert backbone_mismatch(expected, {"stem.conv1.weight": conv}) == (
        "1 tensors missing (first res5.0.conv1.weight)")
    assert backbone_mismatch(expected, {**expected, "res6.weight": conv}) == "1 tensors unexpected (first res6.weight)"
    assert backbone_mismatch(expected, {**expected, "stem.conv1.weight": torch.zeros(8, 2, 3, 3)}) == (
        "stem.conv1.weight is 8x2x3x3 in the checkpoint, 4x2x3x3 here")


def test_strided_block_of_one_width_subsamples_its_shortcut():
    """res5 as wide as res4 at stride 2: the shortcut of its first block is the input's every second pixel."""
    block = build_backbone(_detector_cfg(256)).res5[0]
    x = torch.arange(2 * 256 * 5 * 4, dtype=torch.float32).reshape(2, 256, 5, 4)
    assert torch.equal(block.shortcut(x), x[:, :, ::2, ::2])


def test_fpn_backbone_at_the_default_width_is_detectron2s():
    """build_irnet_resnet_fpn_backbone at strides 2 / 2 and res5's default width: Detectron2's
    build_resnet_fpn_backbone, module for module and weight for weight from one seed."""
    cfg = _detector_cfg()
    built = {}
    for name in ("build_resnet_fpn_backbone", "build_irnet_resnet_fpn_backbone"):
        cfg.MODEL.BACKBONE.NAME = name
        torch.manual_seed(0)
        built[name] = build_backbone(cfg)
    ours, theirs = built["build_irnet_resnet_fpn_backbone"].state_dict(), built["build_resnet_fpn_backbone"].state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert built["build_irnet_resnet_fpn_backbone"].output_shape() == built["build_resnet_fpn_backbone"].output_shape()
