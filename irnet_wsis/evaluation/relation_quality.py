"""Relation labels (stage `relations`) against the ground truth of the training images, on the stride-4 grid.

Foreground / background precision and recall of the labels, the share of object and background cells left
ignored (255), and, for instance regions, how many ground-truth instances got no region or share one region
with another instance (its main region is another instance's main region too).
"""
import numpy as np

from .apr import decode_rle
from .pseudo_quality import gt_label_map

__all__ = ["stride4_truth", "relation_counts", "summarize_relation_counts"]


def stride4_truth(record, stride=4):
    """Ground truth of an instance record on the stride-s grid: (class label map uint8 (0 / c + 1 / 255 crowd),
    instance ids uint8 (0 none, 1..254 in annotation order; later instances on top))."""
    label = gt_label_map(record)[::stride, ::stride]
    ids = np.zeros(label.shape, np.uint8)
    objects = [a for a in record.get("annotations", []) if not a.get("iscrowd", 0)]
    for k, ann in enumerate(objects[:254]):
        ids[decode_rle(ann["segmentation"])[::stride, ::stride]] = k + 1
    return label, ids


def relation_counts(relation, regions, label, ids):
    """Counts of one image: relation labels (h, w) uint8 and regions (or None) against stride-4 truth."""
    fg_truth, bg_truth = (label > 0) & (label < 255), label == 0
    fg_rel, bg_rel, ignored = (relation > 0) & (relation < 255), relation == 0, relation == 255
    c = {
        "fg_labelled": int(fg_rel.sum()), "fg_right": int((fg_rel & (relation == label)).sum()),
        "fg_truth": int(fg_truth.sum()), "fg_found": int((fg_truth & (relation == label)).sum()),
        "bg_labelled": int(bg_rel.sum()), "bg_right": int((bg_rel & bg_truth).sum()),
        "bg_truth": int(bg_truth.sum()), "bg_found": int((bg_truth & bg_rel).sum()),
        "ignored_on_objects": int((ignored & fg_truth).sum()), "ignored_on_background": int((ignored & bg_truth).sum()),
        "cells": int(relation.size),
    }
    if regions is not None:
        instance_ids = [k for k in np.unique(ids) if k > 0]
        c["instances"] = len(instance_ids)
        c["instances_without_region"] = 0
        c["instances_sharing_a_region"] = 0
        owners = {}
        for k in instance_ids:
            inside = regions[(ids == k) & (regions > 0) & (regions < 255)]
            if inside.size == 0:
                c["instances_without_region"] += 1
                continue
            main = int(np.bincount(inside).argmax())
            owners.setdefault(main, []).append(k)
        c["instances_sharing_a_region"] = sum(len(v) for v in owners.values() if len(v) > 1)
    return c


def summarize_relation_counts(total):
    """Summed counts -> percentages."""
    def pct(a, b):
        return round(100.0 * total.get(a, 0) / max(total.get(b, 0), 1), 1)

    out = {
        "foreground_precision": pct("fg_right", "fg_labelled"), "foreground_recall": pct("fg_found", "fg_truth"),
        "background_precision": pct("bg_right", "bg_labelled"), "background_recall": pct("bg_found", "bg_truth"),
        "ignored_share_of_object_cells": pct("ignored_on_objects", "fg_truth"),
        "ignored_share_of_background_cells": pct("ignored_on_background", "bg_truth"),
    }
    if "instances" in total:
        out["instances"] = total["instances"]
        out["instances_without_region_pct"] = pct("instances_without_region", "instances")
        out["instances_sharing_a_region_pct"] = pct("instances_sharing_a_region", "instances")
    return out
