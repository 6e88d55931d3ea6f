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

__all__ = ["multiscale_cams", "multiscale_cams_batch", "stride4_size"]


def stride4_size(height: int, width: int) -> Tuple[int, int]:
    """Size of the stride-4 grid of an image: (ceil(H/4), ceil(W/4))."""
    return (height + 3) // 4, (width + 3) // 4


@torch.no_grad()
def multiscale_cams_batch(model, images: torch.Tensor, classes: Sequence[torch.Tensor],
                          scales: Sequence[float] = (1.0, 0.5, 1.5, 2.0), flip: bool = True, eps: float = 1e-5):
    """CAMs of N images of one size, in one batch per scale.

    Args:
        model: a CAMNet (``normalize`` and ``cam_logits``).
        images: (N, 3, H, W) pixel values in the model's input format.
        classes: N long tensors, each image's class indices (K_n,).
    Returns:
        list of N tuples (cam_stride4 (K_n, ceil(H/4), ceil(W/4)), cam_full (K_n, H, W), classes (K_n,)), in [0, 1].
    """
    n, _, h, w = images.shape
    size4 = stride4_size(h, w)
    x = model.normalize(images)
    sum4 = sum_full = None
    for s in scales:
        xs = x if s == 1.0 else F.interpolate(x, size=(max(1, round(h * s)), max(1, round(w * s))),
                                              mode="bilinear", align_corners=False)
        cams = model.cam_logits(torch.cat([xs, xs.flip(-1)]) if flip else xs)
        if flip:
            cams = cams[:n] + cams[n:].flip(-1)
        up4 = F.interpolate(cams, size=size4, mode="bilinear", align_corners=False)
        up_full = F.interpolate(cams, size=(h, w), mode="bilinear", align_corners=False)
        sum4 = up4 if sum4 is None else sum4 + up4
        sum_full = up_full if sum_full is None else sum_full + up_full

    def norm(m):
        return m / (m.flatten(1).max(dim=1).values[:, None, None] + eps)

    out = []
    for i, c in enumerate(classes):
        c = c.to(model.device).long()
        out.append((norm(sum4[i, c]), norm(sum_full[i, c]), c))
    return out


def multiscale_cams(model, image: torch.Tensor, classes: torch.Tensor, scales: Sequence[float] = (1.0, 0.5, 1.5, 2.0),
                    flip: bool = True, eps: float = 1e-5):
    """CAMs of one image (3, H, W): ``multiscale_cams_batch`` on a batch of one.

    Returns:
        cam_stride4 (K, ceil(H/4), ceil(W/4)), cam_full (K, H, W) in [0, 1], classes (K,).
    """
    return multiscale_cams_batch(model, image[None], [classes], scales, flip, eps)[0]
