"""Inter-pixel relation mining from CAMs (Sec. 4.2).

Confident foreground: CAM > ``fg_threshold`` (0.30); confident background:
max CAM < ``bg_threshold`` (0.05). As in the authors' code, each confident
area comes from the argmax of the CAMs against a constant background plane at
the threshold, refined by a dense CRF on those hard labels (pydensecrf). A pixel
is foreground where the 0.30 run gives it a class, background where both runs
give background, and ignored (255) otherwise. The pair sets P+ / P- of Eq. 2-4
are then read off this map by the IRNet loss (``PixelPairs``).

``split_by_peaks`` (our option, not the paper's) also cuts each class region of
that map into instance regions: one per CAM peak, grown by a watershed of the
CAM, so that Eq. 5 need not give touching objects of one class one centroid.
"""
import numpy as np
from scipy import ndimage

__all__ = ["hard_labels", "crf_refine", "crf_refine_many", "mine_relations", "split_by_peaks"]


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
    return crf_refine_many(image_rgb, [labels], n_labels, crf)[0]


def crf_refine_many(image_rgb, label_maps, n_labels, crf):
    """``crf_refine`` of several label maps of one image, the CRF's pairwise terms built once.

    The bilateral term's lattice depends on the image only, so it is set up once and each map
    gets its own unary and inference: the same labels as one ``crf_refine`` per map (a test); the
    relation stage's two maps an image took 30-40% less time on 500 synthetic train images
    (``benchmarks/RESULTS.md``, "Main job: the relation CRF set up once an image").

    Args:
        image_rgb: uint8 (H, W, 3).
        label_maps: sequence of int (H, W) maps in [0, n_labels).
        crf: ``crf_refine``'s settings dict.
    Returns:
        list of int (H, W), one per map.
    """
    import pydensecrf.densecrf as dcrf
    from pydensecrf.utils import unary_from_labels

    if n_labels < 2 or not len(label_maps):
        return [np.zeros_like(labels) for labels in label_maps]
    h, w = label_maps[0].shape
    d = dcrf.DenseCRF2D(w, h, n_labels)
    d.addPairwiseGaussian(sxy=crf["gaussian_sxy"], compat=crf["gaussian_compat"])
    d.addPairwiseBilateral(sxy=crf["bilateral_sxy"], srgb=crf["bilateral_srgb"],
                           rgbim=np.array(image_rgb, dtype=np.uint8, order="C"), compat=crf["bilateral_compat"])
    refined = []
    for labels in label_maps:
        d.setUnaryEnergy(unary_from_labels(labels.astype(np.int64), n_labels, gt_prob=crf["gt_prob"],
                                           zero_unsure=False))
        q = np.asarray(d.inference(crf["iterations"])).reshape(n_labels, h, w)
        refined.append(q.argmax(axis=0))
    return refined


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
        fg, bg = crf_refine_many(image_rgb, [fg, bg], len(classes) + 1, crf)
    out = np.full(fg.shape, 255, np.uint8)
    out[fg > 0] = lookup[fg[fg > 0]]
    out[(fg == 0) & (bg == 0)] = 0
    return out[::output_stride, ::output_stride]


def split_by_peaks(label, cams, classes, window=7, threshold=0.5, levels=20):
    """Instance regions of a relation label map, one per CAM peak.

    A peak of class c is an 8-connected group of pixels of the class-c region
    where CAM_c equals its maximum over a ``window`` x ``window`` neighbourhood
    and exceeds ``threshold``. Each connected class region is split among the
    peaks inside it by flooding: for CAM levels from high to low, every basin
    grows (8-connected) over the region's pixels at or above the level, so
    basins meet in the CAM's valleys (a watershed quantised to ``levels``). A
    connected region without a peak stays whole.

    Args:
        label: uint8 (h, w) relation labels (0 background, c + 1 class c, 255 ignored).
        cams: float (K, h, w) CAMs in [0, 1] on the same grid; classes: (K,) class of each row.
    Returns:
        uint8 (h, w): 0 on background and ignored pixels, 1..254 instance regions (a region past
        the 254th gets 0, i.e. no Eq. 5 pairs).
    """
    label = np.asarray(label)
    cams = np.asarray(cams, np.float32)
    eight = np.ones((3, 3), bool)
    out = np.zeros(label.shape, np.int64)
    next_id = 1
    for cam, c in zip(cams, np.asarray(classes).reshape(-1)):
        region = label == c + 1
        if not region.any():
            continue
        peaks = (cam == ndimage.maximum_filter(cam, size=window)) & (cam > threshold) & region
        basins, _ = ndimage.label(peaks, structure=eight)
        for level in list(np.linspace(1.0, 0.0, levels + 1)) + [-np.inf]:
            allowed = region & (cam >= level)
            while True:
                grown = np.where(allowed & (basins == 0), ndimage.maximum_filter(basins, size=3), basins)
                if np.array_equal(grown, basins):
                    break
                basins = grown
        components, _ = ndimage.label(region, structure=eight)
        keys = components[region] * (basins.max() + 1) + basins[region]
        unique, index = np.unique(keys, return_inverse=True)  # one id per (connected region, basin)
        out[region] = next_id + index.reshape(-1)
        next_id += len(unique)
    out[out > 254] = 0
    return out.astype(np.uint8)
