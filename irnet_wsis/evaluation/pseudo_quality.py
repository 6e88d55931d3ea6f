"""Quality of the pipeline's intermediate outputs on the training split.

- CAM semantic labels (argmax with a background plane), mIoU swept over the
  background threshold (issue: CAM evaluation; paper Table 2 "CAM").
- Pseudo instances of the three Table 1 rows (AP^r_50 on the training split).
- Propagated semantic labels (paper Table 2 "IRNet").

Ground truth comes from the ``*_instance`` dataset of the same images
(``sem_seg_file_name`` for mIoU, ``annotations`` for AP^r).
"""
import logging
import os

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..errors import bad_input
from ..pseudo.synthesis import semantic_labels
from ..utils.processes import fork_map
from .apr import decode_rle, evaluate_apr
from .miou import SemanticConfusion, plane_sweep_confusions

__all__ = [
    "cam_label_map",
    "sweep_cam_thresholds",
    "evaluate_pseudo_instances",
    "evaluate_semantic_labels",
    "read_label_png",
    "gt_label_map",
    "plot_threshold_sweep",
]

logger = logging.getLogger(__name__)


def read_label_png(path, image_id=None):
    """A class label map PNG (VOC palette or grey) -> uint8 (H, W)."""
    if not os.path.isfile(path):
        raise bad_input(path, "missing label map", image_id)
    return np.asarray(Image.open(path), dtype=np.uint8)


def gt_label_map(record, masks=None):
    """Semantic ground truth of an instance record: its ``sem_seg_file_name``, or its masks rasterised
    (class c -> c + 1, crowd regions 255, as COCO datasets have no semantic PNG). ``masks``: the record's
    annotation masks in annotation order, if already decoded (``irnet_quality.instance_masks``)."""
    if record.get("sem_seg_file_name"):
        return read_label_png(record["sem_seg_file_name"], record["image_id"])
    annotations = record.get("annotations", [])
    if masks is None:
        masks = [decode_rle(ann["segmentation"]) for ann in annotations]
    out = np.zeros((record["height"], record["width"]), np.uint8)
    for mask, ann in sorted(zip(masks, annotations), key=lambda pair: pair[1].get("iscrowd", 0)):
        out[mask] = 255 if ann.get("iscrowd", 0) else ann["category_id"] + 1
    return out


def cam_label_map(cams, classes, threshold):
    """Argmax of CAMs against a constant background plane.

    Args:
        cams: (K, H, W) float, normalised CAMs of the image's K classes.
        classes: (K,) int, class index of each row.
        threshold: background score.
    Returns:
        uint8 (H, W) class label map (0 background, c + 1 for class c).
    """
    return semantic_labels(np.asarray(cams, dtype=np.float32), np.asarray(classes, dtype=np.int64), threshold)


def best_class(cams, classes):
    """The winning CAM of each pixel: float32 (H, W) score (-inf where ``cams`` has no row) and int64 (H, W) label
    (c + 1 for class c), the first row winning a tie as the argmax does."""
    cams = np.asarray(cams, dtype=np.float32)
    if len(cams) == 0:
        return np.full(cams.shape[1:], -np.inf, np.float32), np.zeros(cams.shape[1:], np.int64)
    row = cams.argmax(axis=0)
    best = np.take_along_axis(cams, row[None], axis=0)[0]
    return best, np.asarray(classes, np.int64).reshape(-1)[row] + 1


def sweep_cam_thresholds(load_cams, gt_records, thresholds, num_classes, per_class=False):
    """mIoU (percent) of CAM label maps for each background threshold.

    Args:
        load_cams: record -> (cams (K, H, W) full resolution, classes (K,)).
        gt_records: instance records with ``sem_seg_file_name``.
        thresholds: background thresholds to try.
        num_classes: number of object classes (background excluded).
        per_class: also return {threshold: (num_classes + 1,) IoU percent, background first, nan if absent}.
    Returns:
        {threshold: mIoU percent}, and the per-class dict when ``per_class``.
    """
    total = np.zeros((len(thresholds), num_classes + 1, num_classes + 1), np.int64)
    for record in tqdm(gt_records, desc="CAM mIoU", mininterval=2.0):
        cams, classes = load_cams(record)
        gt = gt_label_map(record)
        if gt.shape != cams.shape[1:]:
            raise bad_input(record["file_name"], f"ground truth size {gt.shape} != CAM size {cams.shape[1:]}",
                            record["image_id"])
        total += plane_sweep_confusions(*best_class(cams, classes), gt, thresholds, num_classes)
    confusions = {t: SemanticConfusion.from_matrix(total[i]) for i, t in enumerate(thresholds)}
    mious = {t: 100.0 * confusions[t].miou() for t in thresholds}
    if per_class:
        return mious, {t: 100.0 * confusions[t].iou() for t in thresholds}
    return mious


def evaluate_semantic_labels(predict, gt_records, num_classes, workers=1):
    """mIoU (percent) of each set of label maps that ``predict(record) -> {name: uint8 (H, W)}`` gives, in one pass
    over the records (each ground truth read once): {name: mIoU}. ``workers`` > 1: that many forked processes
    (``fork_map``)."""
    def image_confusions(record):
        gt = gt_label_map(record)
        matrices = {}
        for name, label in predict(record).items():
            confusion = SemanticConfusion(num_classes)
            confusion.update(label, gt)
            matrices[name] = confusion.matrix
        return matrices

    totals = {}
    for matrices in tqdm(fork_map(image_confusions, gt_records, workers), total=len(gt_records),
                         desc="semantic mIoU", mininterval=2.0):
        for name, matrix in matrices.items():
            totals[name] = totals.get(name, 0) + matrix
    return {name: 100.0 * SemanticConfusion.from_matrix(m).miou() for name, m in totals.items()}


def evaluate_pseudo_instances(predict, gt_records, num_classes, iou_thresholds=(0.5, 0.7), workers=1):
    """AP^r of ``predict(record) -> [{"category_id", "score", "segmentation": RLE}]``; ``workers`` > 1: ``predict``
    in that many forked processes (``fork_map``).

    Returns evaluate_apr's dict (AP50r, AP70r percent, per_class).
    """
    predictions, ground_truths = {}, {}
    predicted = tqdm(fork_map(predict, gt_records, workers), total=len(gt_records), desc="pseudo AP^r", mininterval=2.0)
    for prediction, record in zip(predicted, gt_records):  # the bar first: zip then ends it at the last record
        predictions[record["image_id"]] = prediction
        ground_truths[record["image_id"]] = [
            {"category_id": a["category_id"], "segmentation": a["segmentation"], "iscrowd": a.get("iscrowd", 0)}
            for a in record.get("annotations", [])
        ]
    return evaluate_apr(predictions, ground_truths, num_classes, iou_thresholds=iou_thresholds)


def plot_threshold_sweep(results, path, title="CAM mIoU vs background threshold"):
    """Save a line plot of {threshold: mIoU} to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ts = sorted(results)
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    ax.plot(ts, [results[t] for t in ts], marker="o")
    best = max(ts, key=lambda t: results[t])
    ax.axvline(best, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("background threshold")
    ax.set_ylabel("mIoU (%)")
    ax.set_title(f"{title}\nbest {results[best]:.1f} at {best:.2f}", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
