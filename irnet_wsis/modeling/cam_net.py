"""CAMNet: the classification network whose class activation maps seed everything (Sec. 3).

Backbone (output stride 16) -> global average pooling -> 1x1 conv classifier
without bias, trained with the multi-label soft-margin loss. The CAM of class c
is ReLU(phi_c^T f(x)) divided by its maximum (Eq. 1); classes not in the image
are zero.
"""
from typing import Dict, List

import torch
import torch.nn.functional as F
from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, build_backbone
from torch import nn

__all__ = ["CAMNet", "normalize_cams"]


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


@META_ARCH_REGISTRY.register()
class CAMNet(nn.Module):
    """Multi-label classifier with class activation maps.

    Input dicts: ``"image"`` (3, H, W) uint8 in ``input_format``; ``"labels"`` (C,)
    multi-hot float (training; optional at inference).
    Training returns ``{"loss_cls"}``. Inference returns per image
    ``{"cams": (C, ceil(H/16), ceil(W/16)) in [0, 1], "scores": (C,) sigmoid}``.
    """

    @configurable
    def __init__(self, *, backbone, in_feature, num_classes, pixel_mean, pixel_std, input_format="RGB"):
        super().__init__()
        self.backbone = backbone
        self.in_feature = in_feature
        self.input_format = input_format
        channels = backbone.output_shape()[in_feature].channels
        self.classifier = nn.Conv2d(channels, num_classes, kernel_size=1, bias=False)
        nn.init.xavier_uniform_(self.classifier.weight)
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
        features = self.features(images)
        logits = self.classifier(F.adaptive_avg_pool2d(features, 1)).flatten(1)
        if self.training:
            labels = torch.stack([x["labels"] for x in batched_inputs]).to(logits)
            return {"loss_cls": F.multilabel_soft_margin_loss(logits, labels)}
        cams = F.relu(F.conv2d(features, self.classifier.weight))
        labels = None
        if all("labels" in x for x in batched_inputs):
            labels = torch.stack([x["labels"] for x in batched_inputs]).to(cams)
        cams = normalize_cams(cams, labels)
        scores = torch.sigmoid(logits)
        return [{"cams": c, "scores": s} for c, s in zip(cams, scores)]
