"""CAMNet: the classification network whose class activation maps seed everything (Sec. 3).

Backbone (output stride 16) -> 1x1 conv classifier without bias -> spatial
average pooling of the class score maps (equal to classifying the averaged features, as
the paper), trained with the multi-label soft-margin loss (log-sum-exp pooling measured no
better on coco_mini and went; docs/ablations.md, "coco_mini: CAM backbones").
``MODEL.CAM.HEAD_INIT_CLASS_MAP`` starts the classifier
from ImageNet's (``imagenet_classifier_init``). The CAM of class c is ReLU(phi_c^T f(x)) divided by
its maximum (Eq. 1); classes not in the image are zero.
"""
import os
from typing import Dict, List

import torch
import torch.nn.functional as F
import yaml
from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, build_backbone
from torch import nn

from .precision import bfloat16_forward, channels_last

__all__ = ["CAMNet", "normalize_cams", "imagenet_classifier_init"]


def normalize_cams(cams: torch.Tensor, labels: torch.Tensor = None, eps: float = 1e-5) -> torch.Tensor:
    """Eq. 1: each map divided by its spatial max; rows of absent classes set to zero.

    Args:
        cams: (N, C, h, w) non-negative (ReLU'd) class maps.
        labels: (N, C) multi-hot, or None to keep every class.
    Returns:
        (N, C, h, w) in [0, 1].
    """
    peak = cams.flatten(2).max(dim=2).values[..., None, None]
    out = cams / (peak + eps)
    if labels is not None:
        out = out * (labels[..., None, None] > 0).to(out.dtype)
    return out


def imagenet_classifier_init(cfg):
    """(C, D) classifier start from cfg.MODEL.CAM.HEAD_INIT_CLASS_MAP, or None when it is "".

    Class names come from the metadata of ``DATASETS.TRAIN[0]``; NaN rows for classes the map leaves empty.
    """
    path = cfg.MODEL.CAM.HEAD_INIT_CLASS_MAP
    if not path:
        return None
    from detectron2.data import MetadataCatalog

    from ..errors import BadInputError
    from .efficientnet_lite import imagenet_class_weights

    if cfg.MODEL.BACKBONE.NAME != "build_efficientnet_lite_backbone" or not cfg.MODEL.EFFICIENTNET.CONV_HEAD:
        raise BadInputError(f"{path}: MODEL.CAM.HEAD_INIT_CLASS_MAP needs MODEL.BACKBONE.NAME "
                            f"build_efficientnet_lite_backbone and MODEL.EFFICIENTNET.CONV_HEAD True")
    if not os.path.isfile(path):
        raise BadInputError(f"{path}: class map not found (MODEL.CAM.HEAD_INIT_CLASS_MAP)")
    with open(path) as f:
        class_map = yaml.safe_load(f) or {}
    classes = MetadataCatalog.get(cfg.DATASETS.TRAIN[0]).thing_classes
    unknown = sorted(set(class_map) - set(classes))
    if unknown:
        raise BadInputError(f"{path}: classes {unknown} are not in {cfg.DATASETS.TRAIN[0]}'s classes")
    return imagenet_class_weights([class_map.get(c) or [] for c in classes], cfg.MODEL.EFFICIENTNET.VARIANT)


@META_ARCH_REGISTRY.register()
class CAMNet(nn.Module):
    """Multi-label classifier with class activation maps.

    Input dicts: ``"image"`` (3, H, W) uint8 in ``input_format``; ``"labels"`` (C,)
    multi-hot float (training; optional at inference).
    Training returns ``{"loss_cls"}``. Inference returns per image
    ``{"cams": (C, ceil(H/16), ceil(W/16)) in [0, 1], "scores": (C,) sigmoid}``.
    """

    @configurable
    def __init__(self, *, backbone, in_feature, num_classes, pixel_mean, pixel_std, input_format="RGB",
                 classifier_init=None, bfloat16=False):
        super().__init__()
        self.backbone = bfloat16_forward(backbone) if bfloat16 else channels_last(backbone)  # CAMs stay float32
        self.in_feature = in_feature
        self.input_format = input_format
        channels = backbone.output_shape()[in_feature].channels
        self.classifier = nn.Conv2d(channels, num_classes, kernel_size=1, bias=False)
        nn.init.xavier_uniform_(self.classifier.weight)
        if classifier_init is not None:  # (C, D), NaN rows keep the random start
            if tuple(classifier_init.shape) != (num_classes, channels):
                raise ValueError(f"classifier start of shape {tuple(classifier_init.shape)}, the classifier "
                                 f"needs ({num_classes}, {channels})")
            with torch.no_grad():
                known = ~torch.isnan(classifier_init).any(dim=1)
                self.classifier.weight[known, :, 0, 0] = classifier_init[known].to(self.classifier.weight)
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(-1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(-1, 1, 1), False)

    @classmethod
    def from_config(cls, cfg):
        return {
            "backbone": build_backbone(cfg),
            "in_feature": cfg.MODEL.CAM.IN_FEATURE,
            "num_classes": cfg.MODEL.CAM.NUM_CLASSES,
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
            "input_format": cfg.INPUT.FORMAT,
            "classifier_init": imagenet_classifier_init(cfg),
            "bfloat16": cfg.MODEL.BFLOAT16,
        }

    @property
    def device(self):
        return self.pixel_mean.device

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) pixel values in ``input_format`` -> normalised float."""
        return (images.to(self.device, torch.float32) - self.pixel_mean) / self.pixel_std

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised -> (N, D, h, w) last-level features."""
        return self.backbone(images)[self.in_feature]

    def cam_logits(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised -> (N, C, h, w) ReLU(phi_c^T f(x)), unnormalised CAMs."""
        return F.relu(F.conv2d(self.features(images), self.classifier.weight))

    def forward(self, batched_inputs: List[Dict]):
        images = self.normalize(torch.stack([x["image"] for x in batched_inputs]))
        scores = self.classifier(self.features(images))
        logits = scores.flatten(2).mean(dim=2)  # (N, C): global average pooling
        if self.training:
            labels = torch.stack([x["labels"] for x in batched_inputs]).to(logits)
            return {"loss_cls": F.multilabel_soft_margin_loss(logits, labels)}
        cams = F.relu(scores)
        labels = None
        if all("labels" in x for x in batched_inputs):
            labels = torch.stack([x["labels"] for x in batched_inputs]).to(cams)
        cams = normalize_cams(cams, labels)
        scores = torch.sigmoid(logits)
        return [{"cams": c, "scores": s} for c, s in zip(cams, scores)]
