"""The two branches of IRNet (Sec. 4.1, Fig. 2).

Both take the five backbone levels (stem s4, res2 s4, res3 s8, res4 s16, res5
s16 for the paper's ResNet) and output maps on the stride-4 grid (the size of
the finest level). Every conv but the last is followed by GroupNorm + ReLU.
"""
from typing import Dict, List

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DisplacementBranch", "BoundaryBranch", "conv1x1_gn_relu"]


def conv1x1_gn_relu(in_channels, out_channels, groups):
    """1x1 conv (no bias) + GroupNorm + ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
        nn.GroupNorm(groups, out_channels),
        nn.ReLU(inplace=True),
    )


class DisplacementBranch(nn.Module):
    """Levels -> D: (N, 2, h4, w4), displacement to the instance centroid in stride-4 pixels (dy, dx).

    1x1 conv per level to min(C, ``channels``); a top-down pathway from the
    coarsest level: resize to the next level (x2, or x1 where res4/res5 share
    a stride), concatenate, 1x1 conv; then three 1x1 convs to 2 channels.
    Pixelwise on the backbone's features, as the paper: D at a pixel is as far-sighted as the backbone
    (3x3 dilated context convs on the coarsest level learned a position prior from the zero padding on
    real photos, not a centroid field, and went; docs/ablations.md, "Real photos: relation thresholds and
    IRNet's displacement field").
    """

    def __init__(self, in_channels: List[int], channels: int = 256, gn_groups: int = 16):
        super().__init__()
        reduced = [min(c, channels) for c in in_channels]
        self.reduce = nn.ModuleList(conv1x1_gn_relu(c, r, _groups(r, gn_groups)) for c, r in zip(in_channels, reduced))
        # merge k combines the running top-down map (the coarsest level's channels first) with level (L - 2 - k)
        self.merge = nn.ModuleList()
        running = reduced[-1]
        for r in reversed(reduced[:-1]):
            self.merge.append(conv1x1_gn_relu(running + r, channels, _groups(channels, gn_groups)))
            running = channels
        self.decode = nn.Sequential(
            conv1x1_gn_relu(channels, channels, _groups(channels, gn_groups)),
            conv1x1_gn_relu(channels, channels, _groups(channels, gn_groups)),
            nn.Conv2d(channels, 2, 1),
        )

    def forward(self, levels: List[torch.Tensor]) -> torch.Tensor:
        reduced = [conv(x) for conv, x in zip(self.reduce, levels)]
        top = reduced[-1]
        for merge, lateral in zip(self.merge, reversed(reduced[:-1])):
            if top.shape[-2:] != lateral.shape[-2:]:
                top = F.interpolate(top, size=lateral.shape[-2:], mode="bilinear", align_corners=False)
            top = merge(torch.cat([top, lateral], dim=1))
        return self.decode(top)


class BoundaryBranch(nn.Module):
    """Levels -> B: (N, 1, h4, w4) class boundary probability in [0, 1].

    1x1 conv per level to ``channels`` (GN + ReLU), resize to the stride-4
    grid, concatenate, one 1x1 conv, sigmoid.
    """

    def __init__(self, in_channels: List[int], channels: int = 32, gn_groups: int = 4):
        super().__init__()
        self.reduce = nn.ModuleList(conv1x1_gn_relu(c, channels, _groups(channels, gn_groups)) for c in in_channels)
        self.predict = nn.Conv2d(channels * len(in_channels), 1, 1)

    def forward(self, levels: List[torch.Tensor]) -> torch.Tensor:
        size = levels[0].shape[-2:]
        maps = []
        for conv, x in zip(self.reduce, levels):
            y = conv(x)
            if y.shape[-2:] != size:
                y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
            maps.append(y)
        return torch.sigmoid(self.predict(torch.cat(maps, dim=1)))


def _groups(channels, wanted):
    g = min(wanted, channels)
    while channels % g:
        g -= 1
    return g


def finest_first(features: Dict[str, torch.Tensor], names: List[str]) -> List[torch.Tensor]:
    """Backbone outputs in ``names`` order (finest level first)."""
    return [features[n] for n in names]
