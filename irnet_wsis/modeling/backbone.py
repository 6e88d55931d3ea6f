"""Detectron2's ResNet with a configurable last downsampling stride.

The paper (Sec. 3) reduces the stride of the last downsampling layer from 2 to
1, so CAMs are 1/16 of the input. Detectron2's ``RES5_DILATION`` does that only
for bottleneck blocks; ``build_irnet_resnet_backbone`` does it for every depth
(18/34 basic blocks included) through ``MODEL.RESNETS.RES5_STRIDE``.
Feature strides: stem 4, res2 4, res3 8, res4 16, res5 16 (or 32 with stride 2).
``MODEL.RESNETS.RES4_STRIDE: 1`` also keeps res4 at stride 8 (output stride 8:
finer CAMs for small images; ResNet-18 CAM training measured 2.4x slower than at stride 16).
``MODEL.RESNETS.RES5_OUT_CHANNELS`` narrows (or widens) res5; ``build_irnet_resnet_fpn_backbone`` puts
Detectron2's FPN on this ResNet, so a detector can start from a CAM network of any of these widths.
"""
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY
from detectron2.modeling.backbone.fpn import FPN, LastLevelMaxPool
from detectron2.modeling.backbone.resnet import BasicBlock, BasicStem, BottleneckBlock, ResNet
from torch import nn

__all__ = ["build_irnet_resnet_backbone", "build_irnet_resnet_fpn_backbone", "fpn_on"]

_BLOCKS_PER_STAGE = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}


@BACKBONE_REGISTRY.register()
def build_irnet_resnet_backbone(cfg, input_shape: ShapeSpec):
    """ResNet-{18,34,50,101,152} whose res5 (res4) downsamples by ``MODEL.RESNETS.RES5_STRIDE`` (``RES4_STRIDE``).

    RES5_STRIDE 1: output stride 16 (paper); RES4_STRIDE 1 as well: output stride 8.
    """
    r = cfg.MODEL.RESNETS
    depth = r.DEPTH
    if depth not in _BLOCKS_PER_STAGE:
        raise ValueError(f"MODEL.RESNETS.DEPTH must be one of {sorted(_BLOCKS_PER_STAGE)}, got {depth}")
    for key in ("RES4_STRIDE", "RES5_STRIDE"):
        if r[key] not in (1, 2):
            raise ValueError(f"MODEL.RESNETS.{key} must be 1 or 2, got {r[key]}")
    if r.RES5_OUT_CHANNELS < 0:
        raise ValueError(f"MODEL.RESNETS.RES5_OUT_CHANNELS must be >= 0 (0: twice res4's), got {r.RES5_OUT_CHANNELS}")
    first_strides = {2: 1, 3: 2, 4: r.RES4_STRIDE, 5: r.RES5_STRIDE}
    basic = depth in (18, 34)
    stem = BasicStem(in_channels=input_shape.channels, out_channels=r.STEM_OUT_CHANNELS, norm=r.NORM)
    in_channels = r.STEM_OUT_CHANNELS
    out_channels = 64 if basic else r.RES2_OUT_CHANNELS
    bottleneck_channels = r.NUM_GROUPS * r.WIDTH_PER_GROUP
    stages = []
    for idx, num_blocks in enumerate(_BLOCKS_PER_STAGE[depth]):
        stage_idx = idx + 2
        first_stride = first_strides[stage_idx]
        if stage_idx == 5 and r.RES5_OUT_CHANNELS:
            bottleneck_channels = bottleneck_channels * r.RES5_OUT_CHANNELS // out_channels
            out_channels = r.RES5_OUT_CHANNELS
        kwargs = {
            "num_blocks": num_blocks,
            "stride_per_block": [first_stride] + [1] * (num_blocks - 1),
            "in_channels": in_channels,
            "out_channels": out_channels,
            "norm": r.NORM,
        }
        if basic:
            kwargs["block_class"] = BasicBlock
        else:
            kwargs.update(
                block_class=BottleneckBlock,
                bottleneck_channels=bottleneck_channels,
                stride_in_1x1=r.STRIDE_IN_1X1,
                num_groups=r.NUM_GROUPS,
                dilation=r.RES5_DILATION if stage_idx == 5 else 1,
            )
        blocks = ResNet.make_stage(**kwargs)
        if first_stride > 1 and in_channels == out_channels:
            # Detectron2's blocks add a projection only where the width changes; a strided block of one width
            # (res5 as wide as res4, downsampling in a detector) takes every second pixel of its input instead
            # (parameter-free, so a checkpoint of the stride-1 CAM network still loads strictly)
            blocks[0].shortcut = nn.MaxPool2d(kernel_size=1, stride=first_stride)
        stages.append(blocks)
        in_channels = out_channels
        out_channels *= 2
        bottleneck_channels *= 2
    return ResNet(stem, stages, out_features=r.OUT_FEATURES, freeze_at=cfg.MODEL.BACKBONE.FREEZE_AT)


@BACKBONE_REGISTRY.register()
def build_irnet_resnet_fpn_backbone(cfg, input_shape: ShapeSpec):
    """Detectron2's FPN (``MODEL.FPN.*``, a max-pooled P6) on ``build_irnet_resnet_backbone``: the detector's
    ResNet has the CAM network's widths (``MODEL.RESNETS.RES5_OUT_CHANNELS``), so MODEL.CAM_BACKBONE_INIT loads
    into it. Set ``RES4_STRIDE`` and ``RES5_STRIDE`` to 2 for the usual strides 4-32."""
    return fpn_on(build_irnet_resnet_backbone(cfg, input_shape), cfg)


def fpn_on(bottom_up, cfg):
    """Detectron2's FPN as its ``build_resnet_fpn_backbone`` makes it (``MODEL.FPN.*``, a max-pooled P6) on any
    ``bottom_up`` backbone."""
    return FPN(
        bottom_up=bottom_up,
        in_features=cfg.MODEL.FPN.IN_FEATURES,
        out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
        norm=cfg.MODEL.FPN.NORM,
        top_block=LastLevelMaxPool(),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )
