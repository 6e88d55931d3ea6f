"""Multi-scale, flipped CAM inference of one image (Sec. 3, authors' code).

For each scale the image and its horizontal flip go through the network in one
batch; the flipped map is flipped back; ReLU CAMs of all scales and flips are
upsampled (bilinear) to the stride-4 grid and to full resolution and summed;
each class map is then divided by its maximum (Eq. 1). Only the image's own
classes are kept.
"""
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F

__all__ = ["multiscale_cams", "stride4_size"]


def stride4_size(height: int, width: int) -> Tuple[int, int]:
    """Size of the stride-4 grid of an image: (ceil(H/4), ceil(W/4))."""
    return (height + 3) // 4, (width + 3) // 4


@torch.no_grad()
def multiscale_cams(model, image: torch.Tensor, classes: torch.Tensor, scales: Sequence[float] = (1.0, 0.5, 1.5, 2.0),
                    flip: bool = True, eps: float = 1e-5):
    """CAMs of one image.

    Args:
        model: a CAMNet (``normalize`` and ``cam_logits``).
        image: (3, H, W) pixel values in the model's input format.
        classes: (K,) long, the image's class indices.
    Returns:
        cam_stride4: (K, ceil(H/4), ceil(W/4)) float in [0, 1].
        cam_full: (K, H, W) float in [0, 1].
        classes: (K,) long (on the model's device).
    """
    h, w = image.shape[-2:]
    size4 = stride4_size(h, w)
    x = model.normalize(image[None])
    classes = classes.to(model.device).long()
    sum4 = x.new_zeros((len(classes),) + size4)
    sum_full = x.new_zeros((len(classes), h, w))
    for s in scales:
        xs = x if s == 1.0 else F.interpolate(x, size=(max(1, round(h * s)), max(1, round(w * s))),
                                              mode="bilinear", align_corners=False)
        batch = torch.cat([xs, xs.flip(-1)]) if flip else xs
        cams = model.cam_logits(batch)[:, classes]
        if flip:
            cams = cams[:1] + cams[1:].flip(-1)
        sum4 += F.interpolate(cams, size=size4, mode="bilinear", align_corners=False)[0]
        sum_full += F.interpolate(cams, size=(h, w), mode="bilinear", align_corners=False)[0]

    def norm(m):
        return m / (m.flatten(1).max(dim=1).values[:, None, None] + eps)

    return norm(sum4), norm(sum_full), classes
