"""Mean intersection-over-union of class label maps (0 background, c + 1 class c, 255 ignored)."""
import numpy as np

__all__ = ["SemanticConfusion", "plane_sweep_confusions"]


class SemanticConfusion:
    """Accumulates a (C + 1) x (C + 1) confusion matrix over label maps, background included (as VOC)."""

    def __init__(self, num_classes: int, ignore_label: int = 255):
        self.n = num_classes + 1
        self.ignore_label = ignore_label
        self.matrix = np.zeros((self.n, self.n), np.int64)

    def update(self, pred, gt):
        """pred, gt: int (H, W) label maps of the same size; gt == 255 is ignored."""
        pred = np.asarray(pred).astype(np.int64).reshape(-1)
        gt = np.asarray(gt).astype(np.int64).reshape(-1)
        if pred.shape != gt.shape:
            raise ValueError(f"prediction size {pred.shape} != ground truth size {gt.shape}")
        keep = gt != self.ignore_label
        pred, gt = pred[keep], gt[keep]
        if pred.size and (pred.max() >= self.n or gt.max() >= self.n):
            raise ValueError(f"label out of range 0..{self.n - 1}")
        self.matrix += np.bincount(gt * self.n + pred, minlength=self.n * self.n).reshape(self.n, self.n)

    @classmethod
    def from_matrix(cls, matrix, ignore_label: int = 255):
        """A confusion over an int (C + 1, C + 1) matrix already accumulated (rows ground truth, columns prediction)."""
        confusion = cls(matrix.shape[0] - 1, ignore_label)
        confusion.matrix = np.asarray(matrix, np.int64).copy()
        return confusion

    def iou(self):
        """(C + 1,) IoU per label (nan for labels absent from both prediction and ground truth)."""
        tp = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, tp / union, np.nan)

    def miou(self):
        """Mean IoU over labels present in prediction or ground truth, as a fraction in [0, 1]."""
        return float(np.nanmean(self.iou()))


def plane_sweep_confusions(best, label, gt, thresholds, num_classes, ignore_label=255):
    """Confusion matrices of the label maps ``where(best > t, label, 0)`` for several background thresholds t, in
    one pass over the pixels: the maps an argmax against a constant background plane gives (the plane placed first,
    so a tie goes to the background).

    Each pixel is binned by how many thresholds lie strictly under its score; a threshold's matrix counts the
    pixels of higher bins at their label and those of the other bins as background.

    Args:
        best: float32 (H, W), the winning class score of each pixel (-inf where there is no class).
        label: int (H, W), the label (1..C) of that class.
        gt: int (H, W) ground truth (0 background, c + 1 class c), ``ignore_label`` ignored.
        thresholds: (T,) background thresholds, compared with ``best`` in float32.
        num_classes: C, background excluded.
    Returns:
        int64 (T, C + 1, C + 1) confusion matrices (rows ground truth, columns prediction), in ``thresholds``' order.
    """
    n = num_classes + 1
    best = np.asarray(best, np.float32).reshape(-1)
    label = np.asarray(label).astype(np.int64).reshape(-1)
    gt = np.asarray(gt).astype(np.int64).reshape(-1)
    if not best.shape == label.shape == gt.shape:
        raise ValueError(f"score size {best.shape}, label size {label.shape}, ground truth size {gt.shape} differ")
    keep = gt != ignore_label
    best, label, gt = best[keep], label[keep], gt[keep]
    if gt.size and (gt.max() >= n or label.max() >= n or label.min() < 0):
        raise ValueError(f"label out of range 0..{n - 1}")
    thresholds = np.asarray(thresholds, np.float32)
    order = np.argsort(thresholds, kind="stable")
    below = np.searchsorted(thresholds[order], best, side="left")  # (P,) thresholds strictly under each score
    bins = len(thresholds) + 1
    counts = np.bincount((below * n + gt) * n + label, minlength=bins * n * n).reshape(bins, n, n)
    over = np.cumsum(counts[::-1], axis=0)[::-1]  # over[k]: pixels with at least k thresholds under their score
    confusions = np.empty((len(thresholds), n, n), np.int64)
    for rank, index in enumerate(order):
        labelled = over[rank + 1]  # scores over this threshold keep their label
        confusions[index] = labelled
        confusions[index, :, 0] += (over[0] - labelled).sum(axis=1)
    return confusions
