"""bfloat16 autocast wrapper (MODEL.BFLOAT16): float32 outputs, unchanged checkpoints, the CPU fallback; channels-last
weights in float32."""
import pytest
import torch
from torch import nn

from irnet_wsis.config import setup_cfg
from irnet_wsis.modeling import precision
from irnet_wsis.modeling.precision import bfloat16_forward, channels_last, to_float32


class TwoOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return {"a": y, "b": [y.sum(dim=1), torch.ones(2, dtype=torch.long)]}


def test_outputs_float32_close_to_float32_model_and_same_state_dict():
    torch.manual_seed(0)
    plain = TwoOutputs()
    wrapped = TwoOutputs()
    wrapped.load_state_dict(plain.state_dict())
    bfloat16_forward(wrapped)
    assert wrapped.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert list(wrapped.state_dict()) == list(plain.state_dict())
    x = torch.randn(2, 3, 8, 8)
    ref, out = plain(x), wrapped(x)
    assert out["a"].dtype == torch.float32 and out["b"][0].dtype == torch.float32
    assert out["b"][1].dtype == torch.long  # integer outputs untouched
    assert not torch.equal(out["a"], ref["a"])  # the convolution did run in bfloat16 (8 mantissa bits)
    torch.testing.assert_close(out["a"], ref["a"], atol=0.05, rtol=0.02)
    out["a"].sum().backward()  # gradients reach the float32 weights
    assert wrapped.conv.weight.grad.dtype == torch.float32


def test_channels_last_keeps_float32_outputs_state_dict_and_gradients():
    torch.manual_seed(0)
    plain = TwoOutputs()
    moved = TwoOutputs()
    moved.load_state_dict(plain.state_dict())
    assert channels_last(moved) is moved
    assert moved.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert list(moved.state_dict()) == list(plain.state_dict())
    x = torch.randn(2, 3, 8, 8)  # an NCHW input: the convolution follows its weights
    out = moved(x)["a"]
    assert out.dtype == torch.float32 and out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, plain(x)["a"], atol=1e-5, rtol=1e-5)
    out.sum().backward()
    assert moved.conv.weight.grad.dtype == torch.float32


def test_cam_net_and_irnet_float32_weights_channels_last():
    from detectron2.modeling import build_model

    cfg = setup_cfg("configs/synthetic/irnet_pseudo.yaml", ["MODEL.BFLOAT16", "False"], freeze=False)
    for arch in ("CAMNet", "IRNet"):
        cfg.MODEL.META_ARCHITECTURE = arch
        model = build_model(cfg)
        weights = [p for p in model.parameters() if p.dim() == 4]
        assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights), arch


def test_to_float32_nested():
    t = torch.ones(2, dtype=torch.bfloat16)
    out = to_float32({"x": (t, [t]), "n": 3})
    assert out["x"][0].dtype == torch.float32 and out["x"][1][0].dtype == torch.float32 and out["n"] == 3


@pytest.mark.parametrize("supported", [True, False])
def test_option_turned_off_without_bfloat16_units(monkeypatch, supported):
    monkeypatch.setattr(precision, "bfloat16_supported", lambda device: supported)
    cfg = setup_cfg("configs/synthetic/irnet_pseudo.yaml", ["MODEL.BFLOAT16", "True"])
    assert cfg.MODEL.BFLOAT16 is supported


@pytest.mark.parametrize("supported", [True, False])
def test_cam_inference_option_turned_off_without_bfloat16_units(monkeypatch, supported):
    monkeypatch.setattr(precision, "bfloat16_supported", lambda device: supported)
    cfg = setup_cfg("configs/synthetic/irnet_pseudo.yaml", ["MODEL.BFLOAT16", "False", "CAM_INFERENCE.BFLOAT16", "True"])
    assert cfg.CAM_INFERENCE.BFLOAT16 is supported and cfg.MODEL.BFLOAT16 is False


@pytest.mark.parametrize("model_bf16,inference_bf16", [(False, False), (False, True), (True, False), (True, True)])
def test_cams_stage_bfloat16_with_either_option_training_with_the_model_option(monkeypatch, model_bf16,
                                                                              inference_bf16):
    from irnet_wsis.engine.cam_trainer import cam_inference_cfg, cam_stage_cfg

    monkeypatch.setattr(precision, "bfloat16_supported", lambda device: True)
    cfg = setup_cfg("configs/synthetic/irnet_pseudo.yaml", ["MODEL.BFLOAT16", str(model_bf16),
                                                            "CAM_INFERENCE.BFLOAT16", str(inference_bf16)])
    assert cam_stage_cfg(cfg).MODEL.BFLOAT16 is model_bf16
    assert cam_inference_cfg(cfg).MODEL.BFLOAT16 is (model_bf16 or inference_bf16)
    assert cam_inference_cfg(cfg).OUTPUT_DIR == cam_stage_cfg(cfg).OUTPUT_DIR


def test_cam_net_and_irnet_keep_float32_outputs():
    from detectron2.modeling import build_model

    cfg = setup_cfg("configs/synthetic/irnet_pseudo.yaml", ["MODEL.BFLOAT16", "True"], freeze=False)
    if not cfg.MODEL.BFLOAT16:
        pytest.skip("this CPU has no bfloat16 units")
    cfg.MODEL.META_ARCHITECTURE = "CAMNet"
    cam = build_model(cfg).eval()
    x = torch.rand(1, 3, 32, 32)
    assert cam.cam_logits(x).dtype == torch.float32
    cfg.MODEL.META_ARCHITECTURE = "IRNet"
    irnet = build_model(cfg).eval()
    displacement, boundary = irnet.predict(torch.randint(0, 255, (1, 3, 32, 32)).float())
    assert displacement.dtype == torch.float32 and boundary.dtype == torch.float32
    assert displacement.shape == (1, 2, 8, 8) and boundary.shape == (1, 8, 8)


def _small_mask_rcnn():
    """A Detectron2 R-18-FPN Mask R-CNN (random weights) of the synthetic config's heads, in eval-free form."""
    from detectron2.modeling import build_model

    cfg = setup_cfg("configs/synthetic/mask_rcnn_pseudo.yaml", ["MODEL.CAM_BACKBONE_INIT", ""], freeze=False)
    cfg.MODEL.BFLOAT16 = False
    torch.manual_seed(0)
    return build_model(cfg)


def test_bfloat16_heads_wraps_rpn_box_and_mask_layers_with_float32_outputs():
    from detectron2.structures import BitMasks, Boxes, Instances
    from detectron2.utils.events import EventStorage

    model, plain = _small_mask_rcnn(), _small_mask_rcnn().eval()
    assert precision.bfloat16_heads(model) == ["rpn_head", "box_head", "mask_head"]
    model.eval()
    x = torch.randn(3, 256, 14, 14)
    ref, out = plain.roi_heads.mask_head.layers(x), model.roi_heads.mask_head.layers(x)
    assert not torch.equal(out, ref)  # the layers did run in bfloat16
    torch.testing.assert_close(out, ref, atol=0.05, rtol=0.05)
    features = [torch.randn(1, 256, 8, 8)]
    logits, deltas = model.proposal_generator.rpn_head(features)
    assert logits[0].dtype == torch.float32 and deltas[0].dtype == torch.float32
    assert model.roi_heads.box_head(torch.randn(3, 256, 7, 7)).dtype == torch.float32
    assert model.roi_heads.mask_head.layers(torch.randn(3, 256, 14, 14)).dtype == torch.float32
    # a training step: float32 losses, gradients on the heads' float32 weights
    model.train()
    instances = Instances((64, 64), gt_boxes=Boxes(torch.tensor([[8.0, 8.0, 40.0, 40.0]])),
                          gt_classes=torch.tensor([1]))
    masks = torch.zeros(1, 64, 64, dtype=torch.bool)
    masks[0, 8:40, 8:40] = True
    instances.gt_masks = BitMasks(masks)
    with EventStorage():
        losses = model([{"image": torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8), "instances": instances}])
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    head_weight = model.roi_heads.mask_head.predictor.weight
    assert head_weight.dtype == torch.float32 and head_weight.grad is not None


def test_bfloat16_heads_only_with_the_backbone_option():
    cfg = setup_cfg("configs/synthetic/mask_rcnn_pseudo.yaml", ["MODEL.CAM_BACKBONE_INIT", ""], freeze=False)
    cfg.MODEL.BFLOAT16, cfg.MODEL.BFLOAT16_HEADS = False, True
    model = precision.bfloat16_backbone(_small_mask_rcnn(), cfg)
    assert "layers" not in vars(model.roi_heads.mask_head)  # nothing wrapped
    cfg.MODEL.BFLOAT16 = True
    model = precision.bfloat16_backbone(_small_mask_rcnn(), cfg)
    assert "layers" in vars(model.roi_heads.mask_head) and "forward" in vars(model.proposal_generator.rpn_head)


@pytest.mark.parametrize("bottom_up_bfloat16", [True, False])
def test_bottom_up_network_float32_inside_a_bfloat16_fpn(bottom_up_bfloat16):
    cfg = setup_cfg("configs/synthetic/mask_rcnn_pseudo.yaml", ["MODEL.CAM_BACKBONE_INIT", ""], freeze=False)
    cfg.MODEL.BFLOAT16, cfg.MODEL.BFLOAT16_BOTTOM_UP = True, bottom_up_bfloat16
    model = precision.bfloat16_backbone(_small_mask_rcnn(), cfg)
    dtypes = {}
    model.backbone.bottom_up.stem.conv1.register_forward_hook(lambda m, i, o: dtypes.__setitem__("stem", o.dtype))
    model.backbone.fpn_output2.register_forward_hook(lambda m, i, o: dtypes.__setitem__("fpn", o.dtype))
    with torch.no_grad():
        features = model.backbone(torch.randn(1, 3, 64, 64))
    assert dtypes == {"stem": torch.bfloat16 if bottom_up_bfloat16 else torch.float32, "fpn": torch.bfloat16}
    assert all(f.dtype == torch.float32 for f in features.values())
    assert set(model.state_dict()) == set(_small_mask_rcnn().state_dict())
