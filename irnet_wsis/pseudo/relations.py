"""Inter-pixel relation mining from CAMs (Sec. 4.2).

Confident foreground: CAM > ``fg_threshold`` (0.30); confident background:
max CAM < ``bg_threshold`` (0.05). As in the authors' code, each confident
area comes from the argmax of the CAMs against a constant background plane at
the threshold, refined by a dense CRF on those hard labels (pydensecrf). A pixel
is foreground where the 0.30 run gives it a class, background where both runs
give background, and ignored (255) otherwise. The pair sets P+ / P- of Eq. 2-4
are then read off this map by the IRNet loss (``PixelPairs``).
"""
import numpy as np

__all__ = ["hard_labels", "crf_refine", "mine_relations"]


def hard_labels(cams, threshold):
    """(K, H, W) CAMs -> int (H, W): 0 where no CAM exceeds ``threshold``, else 1 + argmax row."""
    cams = np.asarray(cams, np.float32)
    plane = np.full((1,) + cams.shape[1:], threshold, np.float32)
    return np.concatenate([plane, cams], axis=0).argmax(axis=0)


def crf_refine(image_rgb, labels, n_labels, crf):
    """Dense CRF on hard labels (unary from labels with ``gt_prob``); returns refined int (H, W) labels.

    Args:
        image_rgb: uint8 (H, W, 3).
        labels: int (H, W) in [0, n_labels).
        crf: dict gt_prob, gaussian_sxy, gaussian_compat, bilateral_sxy, bilateral_srgb,
            bilateral_compat, iterations.
    """
    import pydensecrf.densecrf as dcrf
    from pydensecrf.utils import unary_from_labels

    if n_labels < 2:
        return np.zeros_like(labels)
    h, w = labels.shape
    d = dcrf.DenseCRF2D(w, h, n_labels)
    d.setUnaryEnergy(unary_from_labels(labels.astype(np.int64), n_labels, gt_prob=crf["gt_prob"], zero_unsure=False))
    d.addPairwiseGaussian(sxy=crf["gaussian_sxy"], compat=crf["gaussian_compat"])
    d.addPairwiseBilateral(sxy=crf["bilateral_sxy"], srgb=crf["bilateral_srgb"],
                           rgbim=np.array(image_rgb, dtype=np.uint8, order="C"), compat=crf["bilateral_compat"])
    q = np.asarray(d.inference(crf["iterations"])).reshape(n_labels, h, w)
    return q.argmax(axis=0)


def mine_relations(image_rgb, cams, classes, fg_threshold=0.30, bg_threshold=0.05, crf=None, output_stride=4):
    """Class label map of confident areas at IRNet's resolution.

    Args:
        image_rgb: uint8 (H, W, 3).
        cams: float (K, H, W) normalised CAMs of the image's classes (full resolution).
        classes: (K,) int class index of each CAM row.
        crf: CRF settings (see ``crf_refine``) or None to skip the CRF.
        output_stride: subsampling of the result (``[::s, ::s]``).
    Returns:
        uint8 (ceil(H/s), ceil(W/s)): 0 background, c + 1 class c, 255 ignored.
    """
    cams = np.asarray(cams, np.float32)
    classes = np.asarray(classes, np.int64).reshape(-1)
    lookup = np.concatenate([[0], classes + 1]).astype(np.uint8)
    fg = hard_labels(cams, fg_threshold)
    bg = hard_labels(cams, bg_threshold)
    if crf is not None:
        fg = crf_refine(image_rgb, fg, len(classes) + 1, crf)
        bg = crf_refine(image_rgb, bg, len(classes) + 1, crf)
    out = np.full(fg.shape, 255, np.uint8)
    out[fg > 0] = lookup[fg[fg > 0]]
    out[(fg == 0) & (bg == 0)] = 0
    return out[::output_stride, ::output_stride]
