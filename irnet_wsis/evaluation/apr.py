"""VOC-style AP^r: average precision of instance masks at a mask-IoU threshold (SDS, Hariharan et al.).

Per class, the predictions of all images are ranked by score; each is matched
to the ground-truth instance of its class in its image with the highest mask
IoU. IoU >= threshold and that instance not matched yet -> true positive; else
false positive (a second match of an instance is a false positive). Crowd
instances (``iscrowd``) are neither counted in recall nor penalised: a
prediction whose best overlap is a crowd region (intersection over the
prediction's area >= threshold) is ignored. AP is the area under the monotone
precision envelope (VOC 2010+, not 11-point); the mean runs over classes with
at least one (non-crowd) ground-truth instance. Values are percent.
"""
from collections import defaultdict
from typing import Dict, List, Sequence

import numpy as np
from pycocotools import mask as mask_util

__all__ = ["evaluate_apr", "average_precision", "as_rle", "decode_rle"]


def average_precision(tp: np.ndarray, num_gt: int) -> float:
    """Area under the monotone precision envelope of a ranked list of TP (1) / FP (0) flags."""
    if num_gt == 0:
        return float("nan")
    tp = np.asarray(tp, np.float64)
    if tp.size == 0:
        return 0.0
    ctp = np.cumsum(tp)
    recall = ctp / num_gt
    precision = ctp / np.arange(1, len(tp) + 1)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    idx = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def as_rle(seg):
    """A COCO RLE as pycocotools takes it: json-style string counts become bytes."""
    if isinstance(seg, dict) and isinstance(seg.get("counts"), str):
        seg = dict(seg, counts=seg["counts"].encode("ascii"))
    return seg


def decode_rle(seg) -> np.ndarray:
    """COCO RLE (string or bytes counts) -> bool (H, W) mask."""
    return mask_util.decode(as_rle(seg)).astype(bool)


def evaluate_apr(predictions: Dict[str, List[dict]], ground_truths: Dict[str, List[dict]], num_classes: int,
                 iou_thresholds: Sequence[float] = (0.5, 0.7)) -> dict:
    """AP^r at each IoU threshold.

    Args:
        predictions: {image_id: [{"category_id", "score", "segmentation": RLE}]}.
        ground_truths: {image_id: [{"category_id", "segmentation": RLE, "iscrowd"}]} for every evaluated image.
        num_classes: classes are 0..num_classes-1.
    Returns:
        {"AP50r": percent, "AP70r": percent (one key per threshold), "per_class": {thr: [AP or nan]},
         "num_gt": [per class]}
    """
    # per image and class: IoU of every prediction with every gt, computed once
    ranked = defaultdict(list)  # class -> [(score, image_id, index in image predictions)]
    ious, crowd_overlap, gts_by = {}, {}, {}
    num_gt = np.zeros(num_classes, np.int64)
    for image_id, gts in ground_truths.items():
        preds = predictions.get(image_id, [])
        for c in range(num_classes):
            g = [x for x in gts if x["category_id"] == c and not x.get("iscrowd", 0)]
            crowd = [x for x in gts if x["category_id"] == c and x.get("iscrowd", 0)]
            p_idx = [i for i, x in enumerate(preds) if x["category_id"] == c]
            num_gt[c] += len(g)
            if not p_idx:
                continue
            p_rles = [as_rle(preds[i]["segmentation"]) for i in p_idx]
            ious[(image_id, c)] = (
                mask_util.iou(p_rles, [as_rle(x["segmentation"]) for x in g], [0] * len(g))
                if g else np.zeros((len(p_idx), 0))
            )
            # intersection over prediction area for crowd regions (iscrowd=1 in pycocotools)
            crowd_overlap[(image_id, c)] = (
                mask_util.iou(p_rles, [as_rle(x["segmentation"]) for x in crowd], [1] * len(crowd)).max(axis=1)
                if crowd else np.zeros(len(p_idx))
            )
            gts_by[(image_id, c)] = len(g)
            for row, i in enumerate(p_idx):
                ranked[c].append((float(preds[i]["score"]), image_id, row))
    unknown = set(predictions) - set(ground_truths)
    if unknown:
        raise ValueError(f"predictions for {len(unknown)} image(s) without ground truth, e.g. {sorted(unknown)[:3]}")

    results = {"per_class": {}, "num_gt": num_gt.tolist()}
    for thr in iou_thresholds:
        aps = []
        for c in range(num_classes):
            entries = sorted(ranked[c], key=lambda e: -e[0])
            matched = defaultdict(set)
            flags = []
            for _, image_id, row in entries:
                iou_row = ious[(image_id, c)][row]
                if iou_row.size:
                    best = int(np.argmax(iou_row))
                    if iou_row[best] >= thr and best not in matched[image_id]:
                        matched[image_id].add(best)
                        flags.append(1)
                        continue
                    if iou_row[best] >= thr:  # second match of the same instance
                        flags.append(0)
                        continue
                if crowd_overlap[(image_id, c)][row] >= thr:
                    continue  # on a crowd region: ignored
                flags.append(0)
            aps.append(average_precision(np.array(flags), int(num_gt[c])))
        key = f"AP{int(round(thr * 100))}r"
        results["per_class"][key] = [100.0 * a if not np.isnan(a) else float("nan") for a in aps]
        valid = [a for a in aps if not np.isnan(a)]
        results[key] = 100.0 * float(np.mean(valid)) if valid else float("nan")
    return results
