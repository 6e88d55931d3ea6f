"""Relation labels (stage `relations`) against the ground truth of the training images, on the stride-4 grid.

Foreground / background precision and recall of the labels, the share of object and background cells left
ignored (255), and, for instance regions, how many ground-truth instances got no region or share one region
with another instance (its main region is another instance's main region too), how many regions an instance is
cut into, the best IoU of one region with each instance, and how far each region's centroid (the region-centroid
loss's target) lies from its cells' instance centroids.
"""
import numpy as np

from .apr import decode_rle
from .pseudo_quality import gt_label_map

__all__ = ["stride4_truth", "relation_counts", "region_counts", "summarize_relation_counts", "region_table"]


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
        c.update(region_counts(regions, ids))
    return c


def region_counts(regions, ids):
    """Instance regions (h, w) uint8 (0 none, 255 ignored) against ground-truth instance ids (h, w) uint8 (0 none).

    Each region's owner is the instance with most of its cells (regions covering no instance have none).
    Counts: instances; instances with no region cell (``instances_without_region``); instances whose main
    region is another's main region too (``instances_sharing_a_region``, merges); regions with an owner and
    instances owning one (their ratio: regions per instance, fragments); the sum over instances with a
    region cell of the best IoU of one region with the instance's cells inside the regions; and, over the
    region cells of an instance (``target_cells``), the summed distance (cells) from the centroid of the cell's
    region (what the region-centroid loss trains D towards) to the centroid of the cell's instance (all its
    cells), ``target_error_sum``, and from the cell itself (D = 0), ``zero_error_sum``."""
    instance_ids = np.unique(ids[ids > 0])
    c = {"instances": len(instance_ids), "instances_without_region": 0, "instances_sharing_a_region": 0,
         "owned_regions": 0, "instances_owning_a_region": 0, "instance_best_iou_sum": 0.0,
         "target_cells": 0, "target_error_sum": 0.0, "zero_error_sum": 0.0}
    inside = (regions > 0) & (regions < 255)
    if not len(instance_ids):
        return c
    joint = np.zeros((256, 256), np.int64)  # [instance id, region id] cell counts inside the regions
    np.add.at(joint, (ids[inside].astype(np.int64), regions[inside].astype(np.int64)), 1)
    per_instance, per_region = joint.sum(1), joint.sum(0)
    covered = [k for k in instance_ids if per_instance[k] > 0]
    c["instances_without_region"] = len(instance_ids) - len(covered)
    main = {k: int(joint[k].argmax()) for k in covered}
    c["instances_sharing_a_region"] = sum(list(main.values()).count(r) > 1 for r in main.values())
    owners = joint[1:, 1:].argmax(0) + 1  # owner of each region id 1..255 (ignoring cells of no instance)
    has_owner = joint[1:, 1:].sum(0) > 0
    c["owned_regions"] = int(has_owner.sum())
    c["instances_owning_a_region"] = len(set(owners[has_owner].tolist()))
    union = per_instance[:, None] + per_region[None, :] - joint
    iou = np.where(union > 0, joint / np.maximum(union, 1), 0.0)
    c["instance_best_iou_sum"] = float(sum(iou[k, 1:].max() for k in covered))
    yx = np.indices(ids.shape, dtype=np.float64)

    def centroids(map_):  # (256, 2) mean (y, x) of each id's cells
        count = np.maximum(np.bincount(map_.ravel(), minlength=256), 1)[:, None]
        return np.stack([np.bincount(map_.ravel(), yx[i].ravel(), 256) for i in (0, 1)], 1) / count

    on = inside & (ids > 0)
    truth = centroids(ids)[ids[on]]
    target = centroids(np.where(inside, regions, 0))[regions[on]]
    c["target_cells"] = int(on.sum())
    c["target_error_sum"] = float(np.linalg.norm(target - truth, axis=1).sum())
    c["zero_error_sum"] = float(np.linalg.norm(np.stack([yx[0][on], yx[1][on]], 1) - truth, axis=1).sum())
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
        out["regions_per_instance"] = round(total["owned_regions"] / max(total["instances_owning_a_region"], 1), 2)
        covered = total["instances"] - total["instances_without_region"]
        out["instance_best_iou"] = round(100.0 * total["instance_best_iou_sum"] / max(covered, 1), 1)
        out["centroid_target_error"] = round(total["target_error_sum"] / max(total["target_cells"], 1), 2)
        out["centroid_target_error_zero"] = round(total["zero_error_sum"] / max(total["target_cells"], 1), 2)
    return out


def region_table(totals, key, header):
    """Summed ``region_counts`` per setting ({value: counts}) -> (rows, markdown): a row per setting, ``{key:
    value}`` and the region figures of ``summarize_relation_counts``, and a table of them with the setting in its
    first column (``header``; ``None`` printed as ``none``)."""
    lines = [f"| {header} | instances | without a region % | sharing a region % | regions per instance | best IoU % "
             "| centroid target error (D = 0), cells |", "|--:|--:|--:|--:|--:|--:|--:|"]
    rows = []
    for value, total in totals.items():
        s = {k: v for k, v in summarize_relation_counts(total).items()
             if not k.startswith(("foreground", "background", "ignored"))}
        rows.append({key: value, **s})
        lines.append(f"| {'none' if value is None else value} | {s['instances']} "
                     f"| {s['instances_without_region_pct']} | {s['instances_sharing_a_region_pct']} "
                     f"| {s['regions_per_instance']} | {s['instance_best_iou']} "
                     f"| {s['centroid_target_error']} ({s['centroid_target_error_zero']}) |")
    return rows, "\n".join(lines)
