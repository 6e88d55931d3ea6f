"""IRNet: displacement field and class boundary map from a frozen CAM backbone (Sec. 4).

Input dicts: ``"image"`` (3, H, W) uint8 in the input format; in training also
``"relation_label"`` (ceil(H/4), ceil(W/4)) long (0 bg, c + 1, 255 ignored), and
``"relation_region"`` (same shape; 0 and 255 none) when MODEL.IRNET.DISP_PAIRS_WITHIN
is "instance".
Training returns the loss dict of Eq. 9. Inference returns per image
``{"displacement": D (2, h, w) stride-4 pixels (dy, dx), "boundary": B (h, w) in [0, 1]}``.
"""
from typing import Dict, List

import torch
import torch.nn.functional as F
from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, build_backbone
from torch import nn

from ..layers.pixel_pairs import PixelPairs
from .irnet_heads import BoundaryBranch, DisplacementBranch
from .irnet_losses import irnet_losses
from .precision import bfloat16_forward, channels_last

__all__ = ["IRNet"]


@META_ARCH_REGISTRY.register()
class IRNet(nn.Module):
    @configurable
    def __init__(self, *, backbone, in_features, disp_channels=256, disp_gn_groups=16,
                 boundary_channels=32, boundary_gn_groups=4, train_radius=10, loss_weights=(1.0, 1.0, 1.0),
                 freeze_backbone=True, test_flip=True, test_scale=1.0, disp_pairs_within="class",
                 region_boundaries=False, region_mean_weight=0.0, region_centroid_weight=0.0, pixel_mean, pixel_std,
                 bfloat16=False):
        super().__init__()
        self.backbone = backbone
        self.in_features = list(in_features)
        shapes = backbone.output_shape()
        channels = [shapes[f].channels for f in self.in_features]
        self.disp_head = DisplacementBranch(channels, disp_channels, disp_gn_groups)
        self.boundary_head = BoundaryBranch(channels, boundary_channels, boundary_gn_groups)
        for module in (self.backbone, self.disp_head, self.boundary_head):  # D, B and the losses stay float32
            (bfloat16_forward if bfloat16 else channels_last)(module)
        self.train_radius = train_radius
        self.loss_weights = tuple(loss_weights)
        self.freeze_backbone = freeze_backbone
        self.test_flip = test_flip
        if test_scale <= 0:
            raise ValueError(f"MODEL.IRNET.TEST_SCALE {test_scale}: must be > 0")
        self.test_scale = float(test_scale)
        if disp_pairs_within not in ("class", "instance"):
            raise ValueError(f"MODEL.IRNET.DISP_PAIRS_WITHIN {disp_pairs_within!r}: class or instance")
        self.disp_pairs_within = disp_pairs_within
        if region_boundaries and disp_pairs_within == "class":
            raise ValueError("MODEL.IRNET.REGION_BOUNDARIES needs MODEL.IRNET.DISP_PAIRS_WITHIN instance")
        self.region_boundaries = region_boundaries
        for key, weight in (("REGION_MEAN", region_mean_weight), ("REGION_CENTROID", region_centroid_weight)):
            if weight > 0 and disp_pairs_within == "class":
                raise ValueError(f"MODEL.IRNET.LOSS_WEIGHT_DISP_{key} needs MODEL.IRNET.DISP_PAIRS_WITHIN "
                                 "instance")
        self.region_mean_weight = region_mean_weight
        self.region_centroid_weight = region_centroid_weight
        if freeze_backbone:
            for p in self.backbone.parameters():
                p.requires_grad_(False)
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(-1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(-1, 1, 1), False)

    @classmethod
    def from_config(cls, cfg):
        c = cfg.MODEL.IRNET
        return {
            "backbone": build_backbone(cfg),
            "in_features": c.IN_FEATURES,
            "disp_channels": c.DISP_CHANNELS,
            "disp_gn_groups": c.DISP_GN_GROUPS,
            "boundary_channels": c.BOUNDARY_CHANNELS,
            "boundary_gn_groups": c.BOUNDARY_GN_GROUPS,
            "train_radius": c.TRAIN_RADIUS,
            "loss_weights": (c.LOSS_WEIGHT_DISP_FG, c.LOSS_WEIGHT_DISP_BG, c.LOSS_WEIGHT_BOUNDARY),
            "freeze_backbone": c.FREEZE_BACKBONE,
            "test_flip": c.TEST_FLIP,
            "test_scale": c.TEST_SCALE,
            "disp_pairs_within": c.DISP_PAIRS_WITHIN,
            "region_boundaries": c.REGION_BOUNDARIES,
            "region_mean_weight": c.LOSS_WEIGHT_DISP_REGION_MEAN,
            "region_centroid_weight": c.LOSS_WEIGHT_DISP_REGION_CENTROID,
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
            "bfloat16": cfg.MODEL.BFLOAT16,
        }

    @property
    def device(self):
        return self.pixel_mean.device

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()  # frozen: BN keeps its statistics
        return self

    def levels(self, images: torch.Tensor) -> List[torch.Tensor]:
        """(N, 3, H, W) pixels -> the five backbone levels, detached (the backbone is not trained)."""
        x = (images.to(self.device, torch.float32) - self.pixel_mean) / self.pixel_std
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_backbone):
            features = self.backbone(x)
        levels = [features[f] for f in self.in_features]
        return [f.detach() for f in levels] if self.freeze_backbone else levels

    def predict(self, images: torch.Tensor):
        """(N, 3, H, W) -> D (N, 2, h, w), B (N, h, w) on the stride-4 grid."""
        levels = self.levels(images)
        return self.disp_head(levels), self.boundary_head(levels)[:, 0]

    def predict_at_test_scale(self, images: torch.Tensor):
        """(N, 3, H, W) -> D (N, 2, ceil(H/4), ceil(W/4)) in stride-4 cells of the input image, B (N, same).

        Runs :meth:`predict` on the image resized by ``test_scale``; D is read back onto the input's grid
        (bilinear) and multiplied by the ratio of the grids per axis, so it stays in the input's cells.
        """
        if self.test_scale == 1.0:
            return self.predict(images)
        height, width = images.shape[-2:]
        size = (max(1, round(height * self.test_scale)), max(1, round(width * self.test_scale)))
        scaled = F.interpolate(images.to(self.device, torch.float32), size=size, mode="bilinear",
                               align_corners=False, antialias=self.test_scale < 1)
        displacement, boundary = self.predict(scaled)
        grid = (-(-height // 4), -(-width // 4))
        ratio = displacement.new_tensor([grid[0] / displacement.shape[-2], grid[1] / displacement.shape[-1]])
        displacement = F.interpolate(displacement, size=grid, mode="bilinear", align_corners=False)
        boundary = F.interpolate(boundary[:, None], size=grid, mode="bilinear", align_corners=False)[:, 0]
        return displacement * ratio.view(1, 2, 1, 1), boundary

    def pair_regions(self, batched_inputs: List[Dict], labels: torch.Tensor):
        """Regions that bound Eq. 5's pairs: (N, h, w) long ids, -1 for none; None for the paper's class pairs."""
        if self.disp_pairs_within == "class":
            return None
        if "relation_region" not in batched_inputs[0]:
            raise ValueError("MODEL.IRNET.DISP_PAIRS_WITHIN instance needs inputs with 'relation_region' "
                             "(RELATIONS.INSTANCE_REGIONS True)")
        regions = torch.stack([x["relation_region"] for x in batched_inputs]).to(self.device)
        return torch.where((regions > 0) & (regions < 255), regions, torch.full_like(regions, -1))

    def forward(self, batched_inputs: List[Dict]):
        images = torch.stack([x["image"] for x in batched_inputs])
        if self.training:
            displacement, boundary = self.predict(images)
            labels = torch.stack([x["relation_label"] for x in batched_inputs]).to(self.device)
            if labels.shape[-2:] != boundary.shape[-2:]:
                raise ValueError(f"relation labels {tuple(labels.shape[-2:])} != stride-4 grid "
                                 f"{tuple(boundary.shape[-2:])}")
            return irnet_losses(displacement, boundary, labels, PixelPairs.get(self.train_radius), self.loss_weights,
                                self.pair_regions(batched_inputs, labels),
                                self.region_boundaries, self.region_mean_weight, self.region_centroid_weight)
        # the images and their flips in one batch; D from the images, B averaged with the flips' B flipped back
        n = len(images)
        batch = torch.cat([images, images.flip(-1)]) if self.test_flip else images
        displacement, boundary = self.predict_at_test_scale(batch)
        if self.test_flip:
            boundary = (boundary[:n] + boundary[n:].flip(-1)) / 2
        return [{"displacement": displacement[i], "boundary": boundary[i]} for i in range(n)]
