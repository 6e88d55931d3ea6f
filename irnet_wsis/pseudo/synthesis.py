"""Pseudo instance and semantic labels from CAMs, D and B (Sec. 5.2; Table 1 rows).

Methods (``method``):
- ``"full"``: instance-wise CAMs M_ck = M_c * [I = k] (Eq. 11) for all (c, k) at
  once, random walk of M_ck * (1 - B) (Eq. 13), scores divided by their global
  maximum, a background plane at ``background_threshold``, argmax, upsampling
  to image size; each (c, k) region split into 4-connected components.
- ``"boundary"``: the same without D (one map per class), instances = connected
  components of each class region ("CAM + Class Boundary").
- ``"cam"``: CAMs upsampled, thresholded against ``cam_threshold``, connected
  components ("CAM").
An instance's score is the maximum score inside its mask (0 for components
under ``min_area_fraction`` of the image).
"""
import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .instances import instance_map
from .random_walk import random_walk

__all__ = ["synthesize_instances", "synthesize_semantic", "semantic_scores", "semantic_labels",
           "upsample_scores", "crf_refine_label_map"]


def upsample_scores(scores: torch.Tensor, image_size) -> torch.Tensor:
    """(M, h, w) stride-4 scores -> (M, H, W): bilinear x4, cropped to the image."""
    h, w = scores.shape[-2:]
    H, W = image_size
    if len(scores) == 0:  # no maps (an image without classes): interpolate refuses empty tensors
        return scores.new_zeros(0, H, W)
    up = F.interpolate(scores[None], size=(4 * h, 4 * w), mode="bilinear", align_corners=False)[0]
    return up[:, :H, :W]


def _normalized(scores: torch.Tensor) -> torch.Tensor:
    """(M, H, W) scores divided by their maximum over all maps."""
    peak = scores.max() if scores.numel() else scores.new_tensor(0.0)
    return scores / peak.clamp(min=1e-5)


def _label_with_plane(scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """(M, H, W) -> label (H, W) long: 0 where a constant plane at ``threshold`` wins, m + 1 for map m."""
    plane = scores.new_full((1,) + tuple(scores.shape[1:]), threshold)
    return torch.cat([plane, scores]).argmax(dim=0)


def _components(label, normalized, owners, image_area, min_area_fraction):
    """Split each map's region into 4-connected components -> instances. Label m (> 0) is map m - 1 of ``owners``,
    its scores ``normalized[m - 1]``."""
    instances = []
    label_np = label.cpu().numpy()
    for m in np.unique(label_np):
        if m == 0:
            continue
        region = (label_np == m).astype(np.uint8)
        n, comp = cv2.connectedComponents(region, connectivity=4)
        score_map = normalized[m - 1].cpu().numpy()
        for j in range(1, n):
            mask = comp == j
            area = int(mask.sum())
            score = float(score_map[mask].max()) if area >= min_area_fraction * image_area else 0.0
            instances.append({"category_id": int(owners[m - 1]), "mask": mask, "score": score})
    return instances


def _check_shapes(cams, classes, image_size, displacement, boundary):
    """ValueError naming the mismatch (the stage runner turns it into a BadInputError with the file)."""
    if cams.dim() != 3 or len(cams) != len(classes):
        raise ValueError(f"CAMs of shape {tuple(cams.shape)} for {len(classes)} classes")
    h, w = cams.shape[1:]
    if not (4 * (h - 1) < image_size[0] <= 4 * h and 4 * (w - 1) < image_size[1] <= 4 * w):
        raise ValueError(f"stride-4 CAMs {h}x{w} do not fit image size {tuple(image_size)}")
    if displacement is not None and tuple(displacement.shape) != (2, h, w):
        raise ValueError(f"displacement {tuple(displacement.shape)} != (2, {h}, {w})")
    if boundary is not None and tuple(boundary.shape) != (h, w):
        raise ValueError(f"boundary {tuple(boundary.shape)} != ({h}, {w})")


def _walk(maps, boundary, radius, beta, steps):
    return random_walk(maps, boundary.float(), radius, beta, steps)


def _walked_labels(maps, boundary, image_size, radius, beta, steps, background_threshold):
    """Maps (M, h, w) at stride 4 (class CAMs, or the full method's per-instance CAMs) walked on B -> (label (H, W)
    long: 0 background, m + 1 for map m; ``semantic_scores`` (M, H, W))."""
    normalized = semantic_scores(maps, boundary, image_size, radius, beta, steps)
    return _label_with_plane(normalized, background_threshold), normalized


def synthesize_instances(cams, classes, displacement, boundary, image_size, *, method="full", radius=5, beta=10,
                         steps=256, refine_iterations=100, centroid_threshold=2.5, mean_displacement=None,
                         background_threshold=0.25, min_area_fraction=0.01, cam_threshold=0.25,
                         centroid_rule="magnitude", centroid_min_mass=2.0,
                         refine_min_norm=0.0):
    """Pseudo instances of one image.

    Args:
        cams: (K, h, w) stride-4 CAMs in [0, 1]; classes: (K,) class indices.
        displacement: D (2, h, w) or None (method "cam"/"boundary"); boundary: B (h, w) or None ("cam").
        image_size: (H, W).
        centroid_rule: "magnitude" (the paper) or "landing" (CAM mass of refined vectors >= centroid_min_mass).
        refine_min_norm: vectors of D shorter than this (grid pixels) are zero before Eq. 10; 0: the paper.
    Returns:
        list of {"category_id": int, "mask": bool (H, W) numpy, "score": float}.
    """
    cams = torch.as_tensor(cams).float()
    classes = torch.as_tensor(classes).long().reshape(-1)
    H, W = image_size
    _check_shapes(cams, classes, image_size, displacement if method == "full" else None,
                  boundary if method != "cam" else None)
    if len(classes) == 0:
        return []
    if method == "cam":
        scores = upsample_scores(cams, image_size)
        return _components(_label_with_plane(scores, cam_threshold), scores, classes.tolist(), H * W, min_area_fraction)
    if method == "boundary":
        label, normalized = _walked_labels(cams, boundary, image_size, radius, beta, steps, background_threshold)
        return _components(label, normalized, classes.tolist(), H * W, min_area_fraction)
    if method != "full":
        raise ValueError(f"unknown synthesis method {method!r} (full, boundary, cam)")
    if centroid_rule not in ("magnitude", "landing"):
        raise ValueError(f"unknown centroid rule {centroid_rule!r} (magnitude, landing)")
    cam_max = cams.max(dim=0).values
    inst, k = instance_map(displacement, refine_iterations, centroid_threshold, mean_displacement,
                           cam_max if centroid_rule == "landing" else None, centroid_min_mass, refine_min_norm)
    # Eq. 11 for every (c, k) at once; pairs with no CAM mass are dropped
    per_instance = torch.nn.functional.one_hot(inst, k).permute(2, 0, 1).float()  # (k, h, w)
    maps = (cams[:, None] * per_instance[None]).flatten(0, 1)  # (K * k, h, w)
    owners = classes.repeat_interleave(k)
    keep = maps.flatten(1).sum(dim=1) > 0
    maps, owners = maps[keep], owners[keep]
    if len(maps) == 0:
        return []
    label, normalized = _walked_labels(maps, boundary, image_size, radius, beta, steps, background_threshold)
    return _components(label, normalized, owners.tolist(), H * W, min_area_fraction)


def semantic_scores(cams, boundary, image_size, radius=5, beta=10, steps=256):
    """Class CAMs (K, h, w) at stride 4 propagated by the walk of B (h, w) -> (K, H, W) divided by their maximum."""
    return _normalized(upsample_scores(_walk(torch.as_tensor(cams).float(), boundary, radius, beta, steps), image_size))


def semantic_labels(scores, classes, background_threshold):
    """Class scores (K, H, W) of ``classes`` (K,) against a constant background plane -> uint8 (H, W) class
    label map: 0 background, c + 1 class c."""
    label = _label_with_plane(torch.as_tensor(scores, dtype=torch.float32), background_threshold)
    lookup = torch.cat([torch.zeros(1, dtype=torch.long), torch.as_tensor(classes).long().reshape(-1) + 1])
    return lookup[label].cpu().numpy().astype(np.uint8)


def crf_refine_label_map(image_rgb, label_map, crf):
    """A class label map refined by a dense CRF on the image's colours (``relations.crf_refine``).

    Args:
        image_rgb: uint8 (H, W, 3). label_map: uint8 (H, W), 0 background, c + 1 class c.
        crf: ``crf_refine``'s settings dict.
    Returns:
        uint8 (H, W) on the same labels: the CRF chooses only among the labels present in ``label_map``.
    """
    from .relations import crf_refine

    present, compact = np.unique(np.asarray(label_map), return_inverse=True)
    if len(present) < 2:
        return np.asarray(label_map, np.uint8).copy()
    refined = crf_refine(image_rgb, compact.reshape(label_map.shape), len(present), crf)
    return present[refined].astype(np.uint8)


def synthesize_semantic(cams, classes, boundary, image_size, *, radius=5, beta=10, steps=256,
                        background_threshold=0.25):
    """Pseudo semantic labels (Table 2): uint8 (H, W), 0 background, c + 1 class c."""
    cams = torch.as_tensor(cams).float()
    classes = torch.as_tensor(classes).long().reshape(-1)
    _check_shapes(cams, classes, image_size, None, boundary)
    return semantic_labels(semantic_scores(cams, boundary, image_size, radius, beta, steps), classes,
                           background_threshold)
