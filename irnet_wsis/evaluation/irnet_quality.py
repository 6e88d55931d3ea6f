"""IRNet's outputs against the ground truth of held-out images (benchmarks/irnet_quality.py wires them):
centroids of D as the synthesis finds them, class boundaries of a record, ground-truth instance masks and
centroid field on the stride-4 grid, and the landing error of D per instance.
"""
import cv2
import numpy as np
import torch
from scipy import ndimage

from ..pseudo.instances import (
    centroid_components,
    instance_map,
    landing_cells,
    landing_components,
    refine_displacement,
)
from .apr import decode_rle

__all__ = ["count_centroids", "centroid_groups", "instance_masks", "boundary_band", "instance_masks4",
           "oracle_displacement", "instance_landing_errors"]


def count_centroids(cfg, d, cam_max, fg4, objects4):
    """Centroids of D (2, h, w) under SYNTHESIS.CENTROID_RULE.

    Args:
        cam_max: (h, w) max CAM or None; fg4: bool (h, w) ground-truth foreground (void band excluded);
        objects4: bool (h, w) numpy, union of the ground-truth instance masks.
    Returns:
        {"detected": int} and, for the landing rule, "on_objects" (groups touching an object dilated by one
        cell) and "majority_foreground" (groups where most landing CAM mass comes from fg4: the old test).
    """
    s = cfg.SYNTHESIS
    if s.CENTROID_RULE == "landing":
        ty, tx = landing_cells(refine_displacement(d, s.REFINE_ITERATIONS, s.REFINE_MIN_NORM))
        comps, k = landing_components((ty, tx), cam_max, s.CENTROID_MIN_MASS)
        lands_in = torch.from_numpy(comps.astype(np.int64))[ty, tx]  # (h, w) component each pixel lands in
        mass = torch.zeros(k + 1).index_add_(0, lands_in.flatten(), cam_max.flatten())
        fg_mass = torch.zeros(k + 1).index_add_(0, lands_in.flatten(), (cam_max * fg4).flatten())
        near = ndimage.binary_dilation(objects4, structure=np.ones((3, 3), bool))
        return {"detected": k, "on_objects": len(np.unique(comps[near & (comps > 0)])),
                "majority_foreground": int(((fg_mass[1:] > 0.5 * mass[1:]) & (mass[1:] > 0)).sum())}
    # |D| < threshold also holds on all background (D ~ 0): only components mostly on foreground count
    comps, k = centroid_components(d, s.CENTROID_THRESHOLD)
    fg = fg4.numpy()
    return {"detected": sum(1 for j in range(1, k + 1) if fg[comps == j].mean() > 0.5)}


def centroid_groups(cfg, displacement, mean_displacement=None, cam_max=None):
    """Centroid groups that the full method's synthesis finds in D: int, the number of instances D can make.

    Args:
        displacement: D (2, h, w) tensor, stride-4 cells; mean_displacement: (2,) or None (subtracted first);
        cam_max: (h, w) max CAM, needed by SYNTHESIS.CENTROID_RULE "landing" only.
    Under the paper's magnitude rule the background (D near 0) is a group of its own, so an image whose
    count is 1 has one group for everything: D split nothing there (the full method gives the boundary row).
    """
    s = cfg.SYNTHESIS
    landing = cam_max if s.CENTROID_RULE == "landing" else None
    _, k = instance_map(displacement, s.REFINE_ITERATIONS, s.CENTROID_THRESHOLD, mean_displacement, landing,
                        s.CENTROID_MIN_MASS, s.REFINE_MIN_NORM)
    return int(k)


def instance_masks(record):
    """The record's annotation masks, decoded once: list of bool (H, W), in the order of its annotations."""
    return [decode_rle(ann["segmentation"]) for ann in record.get("annotations", [])]


def boundary_band(record, gt, kernel, masks=None):
    """bool (H, W): ground-truth class boundaries dilated by ``kernel``. VOC-style label maps draw them as the
    255 void band; COCO-json records have none, so there they are where the instance-id map changes between
    an object and anything else (crowd regions left out). ``masks``: ``instance_masks(record)`` if decoded."""
    if record.get("sem_seg_file_name"):
        return cv2.dilate((gt == 255).astype(np.uint8), kernel).astype(bool)
    annotations = record.get("annotations", [])
    masks = instance_masks(record) if masks is None else masks
    ids = np.zeros(gt.shape, np.int32)
    for k, mask in enumerate(m for m, a in zip(masks, annotations) if not a.get("iscrowd", 0)):
        ids[mask] = k + 1
    edges = cv2.dilate(ids.astype(np.float32), kernel) != cv2.erode(ids.astype(np.float32), kernel)
    return cv2.dilate(edges.astype(np.uint8), kernel).astype(bool) & (gt != 255)


def instance_masks4(record, shape, masks=None):
    """The record's ground-truth instance masks on the stride-4 grid: list of bool (h, w).
    ``masks``: ``instance_masks(record)`` if already decoded."""
    h, w = shape
    masks = instance_masks(record) if masks is None else masks
    return [m[::4, ::4][:h, :w] for m in masks]


def oracle_displacement(masks, shape):
    """(2, h, w) float32 ground-truth centroid field on the stride-4 grid: instance pixels -> their centroid."""
    h, w = shape
    d = np.zeros((2, h, w), np.float32)
    ys, xs = np.mgrid[0:h, 0:w]
    for m in masks:
        if m.any():
            d[0][m] = ys[m].mean() - ys[m]
            d[1][m] = xs[m].mean() - xs[m]
    return d


def instance_landing_errors(masks, displacement):
    """[(group, (mean |x + D(x) - c|, mean |x - c|))] per ground-truth instance mask (``instance_masks4``).

    displacement: (2, h, w) numpy, stride-4 pixels; c is the instance's centroid on the stride-4 grid;
    group is "alone" (only instance of its image), "apart" or "touching" (another instance within 2 px).
    """
    h, w = displacement.shape[1:]
    ys, xs = np.mgrid[0:h, 0:w]
    out = []
    for i, m in enumerate(masks):
        if m.sum() < 4:
            continue
        if len(masks) == 1:
            group = "alone"
        else:
            others = np.logical_or.reduce([o for j, o in enumerate(masks) if j != i])
            group = "touching" if (ndimage.binary_dilation(m, iterations=2) & others).any() else "apart"
        cy, cx = ys[m].mean(), xs[m].mean()
        err_d = np.hypot(ys[m] + displacement[0][m] - cy, xs[m] + displacement[1][m] - cx).mean()
        err_0 = np.hypot(ys[m] - cy, xs[m] - cx).mean()
        out.append((group, (float(err_d), float(err_0))))
    return out
