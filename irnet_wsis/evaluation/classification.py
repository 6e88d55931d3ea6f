"""Multi-label classification mAP of CAMNet (image-level scores against image-level labels)."""
import numpy as np
import torch
from tqdm import tqdm

from .apr import average_precision

__all__ = ["multilabel_map", "classification_map"]


def multilabel_map(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean over classes with a positive of the AP of ranking images by score; percent.

    Args:
        scores: (N, C) float. labels: (N, C) {0, 1}.
    """
    aps = []
    for c in range(scores.shape[1]):
        positives = int(labels[:, c].sum())
        if positives == 0:
            continue
        order = np.argsort(-scores[:, c], kind="stable")
        aps.append(average_precision(labels[order, c], positives))
    return 100.0 * float(np.mean(aps)) if aps else float("nan")


@torch.no_grad()
def classification_map(model, records, mapper) -> float:
    """mAP of ``model`` (CAMNet, eval mode) over ``records`` read by ``mapper`` (test mode)."""
    scores, labels = [], []
    for record in tqdm(records, desc="classification mAP", mininterval=2.0):
        item = mapper(record)
        out = model([{"image": item["image"]}])[0]
        scores.append(out["scores"].cpu().numpy())
        labels.append(item["labels"].numpy())
    return multilabel_map(np.stack(scores), np.stack(labels))
