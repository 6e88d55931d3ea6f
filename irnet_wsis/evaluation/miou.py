"""Mean intersection-over-union of class label maps (0 background, c + 1 class c, 255 ignored)."""
import numpy as np

__all__ = ["SemanticConfusion"]


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

    def iou(self):
        """(C + 1,) IoU per label (nan for labels absent from both prediction and ground truth)."""
        tp = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, tp / union, np.nan)

    def miou(self):
        """Mean IoU over labels present in prediction or ground truth, as a fraction in [0, 1]."""
        return float(np.nanmean(self.iou()))
