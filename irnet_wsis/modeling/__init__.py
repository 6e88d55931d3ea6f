"""Backbones, the CAMNet and IRNet meta-architectures (registered with Detectron2), their heads and losses."""
from .backbone import build_irnet_resnet_backbone
from .cam_net import CAMNet
from .efficientnet_lite import build_efficientnet_lite_backbone, build_efficientnet_lite_fpn_backbone
from .irnet import IRNet
