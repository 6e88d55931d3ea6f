"""Per-instance diagnosis of pseudo labels against ground truth: each ground-truth instance is a hit (a
prediction of its class at IoU >= 0.5), merged (the best prediction also covers another instance of its
class), too big, too small or found by nothing; split by whether another instance of its class touches it.
"""
import collections

import cv2
import numpy as np

__all__ = ["classify_misses"]


def classify_misses(gts, preds, touch_px=4):
    """Counter of hits and misses for one image.

    Args:
        gts: list of (category_id, bool (H, W) mask). preds: list of {"category_id", "mask", "score"}.
    """
    counts = collections.Counter()
    preds = [p for p in preds if p["score"] > 0]
    kernel = np.ones((3, 3), np.uint8)
    for i, (c, m) in enumerate(gts):
        near = cv2.dilate(m.astype(np.uint8), kernel, iterations=touch_px).astype(bool)
        group = "touching" if any(c2 == c and j != i and (near & m2).any() for j, (c2, m2) in enumerate(gts)) \
            else "alone"
        counts[group] += 1
        best, best_mask = 0.0, None
        for p in preds:
            if p["category_id"] == c:
                iou = (p["mask"] & m).sum() / max((p["mask"] | m).sum(), 1)
                if iou > best:
                    best, best_mask = iou, p["mask"]
        if best >= 0.5:
            kind = "hit"
        elif best_mask is None:
            kind = "none"
        elif any(j != i and c2 == c and (best_mask & m2).sum() > 0.3 * m2.sum() for j, (c2, m2) in enumerate(gts)):
            kind = "merged"
        else:
            kind = "big" if best_mask.sum() > m.sum() else "small"
        counts[f"{group}_{kind}"] += 1
    return counts
