"""Dataset mappers of the CAM and IRNet stages (Detectron2 ``DatasetMapper`` style).

Training augmentation (authors' code): random resize of the long side to a
value in ``RESIZE_LONG`` (the authors' CAM training) or by a random factor in
``RESIZE_SCALE`` (``RESIZE_TYPE "scale"``: the authors' IRNet training), random
horizontal flip, random crop to
``CROP_SIZE`` x ``CROP_SIZE`` (an image smaller than the crop is placed at a
random offset and padded with the mean pixel, i.e. zero after normalisation;
relation labels are padded with 255).
"""
import copy
import logging

import numpy as np
import torch
from detectron2.config import configurable
from detectron2.data import transforms as T
from PIL import Image

from ..errors import bad_input
from .copy_paste import RegionPaster
from .io import read_image_or_fail, read_stride_map

__all__ = ["RandomResizeLongSide", "RandomRescale", "CAMDatasetMapper", "IRNetDatasetMapper", "pad_crop"]

logger = logging.getLogger(__name__)


class _RandomResize(T.Augmentation):
    """Resize both sides by the factor ``draw_scale(h, w)`` (at least 1 pixel each)."""

    def draw_scale(self, h, w):
        raise NotImplementedError

    def get_transform(self, image):
        h, w = image.shape[:2]
        scale = self.draw_scale(h, w)
        nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
        return T.ResizeTransform(h, w, nh, nw, self.interp)


class RandomResizeLongSide(_RandomResize):
    """Resize so the long side is a random integer in [min_long, max_long], keeping the aspect ratio."""

    def __init__(self, min_long, max_long, interp=Image.BILINEAR):
        super().__init__()
        self._init(locals())

    def draw_scale(self, h, w):
        return np.random.randint(self.min_long, self.max_long + 1) / max(h, w)


class RandomRescale(_RandomResize):
    """Resize both sides by one random factor in [min_scale, max_scale] (the authors' IRNet training: 0.5-1.5)."""

    def __init__(self, min_scale, max_scale, interp=Image.BILINEAR):
        super().__init__()
        self._init(locals())

    def draw_scale(self, h, w):
        return np.random.uniform(self.min_scale, self.max_scale)


def pad_crop(image, label, crop_size, pad_pixel, rng=np.random):
    """Random crop_size x crop_size window; smaller images are placed at a random offset and padded.

    Args:
        image: (H, W, 3) uint8. label: (H, W) or (H, W, C) uint8, or None.
        pad_pixel: (3,) value of padded image pixels.
    Returns:
        image (S, S, 3), label (S, S[, C]) or None (padding 255).
    """
    h, w = image.shape[:2]
    s = crop_size
    out = np.empty((s, s, 3), image.dtype)
    out[...] = np.asarray(pad_pixel, dtype=image.dtype)
    out_label = None if label is None else np.full((s, s) + label.shape[2:], 255, label.dtype)
    # source window (when larger than the crop) and destination offset (when smaller)
    sy = rng.randint(0, h - s + 1) if h > s else 0
    sx = rng.randint(0, w - s + 1) if w > s else 0
    dy = rng.randint(0, s - h + 1) if h < s else 0
    dx = rng.randint(0, s - w + 1) if w < s else 0
    ch, cw = min(h, s), min(w, s)
    out[dy:dy + ch, dx:dx + cw] = image[sy:sy + ch, sx:sx + cw]
    if label is not None:
        out_label[dy:dy + ch, dx:dx + cw] = label[sy:sy + ch, sx:sx + cw]
    return out, out_label


def _augmentations(resize_long, flip, resize_type="long_side", resize_scale=(0.5, 1.5)):
    """Random resize ("long_side": long side in ``resize_long`` pixels; "scale": by a factor in ``resize_scale``),
    then an optional horizontal flip."""
    if resize_type not in ("long_side", "scale"):
        raise ValueError(f"INPUT.IRNET.RESIZE_TYPE {resize_type!r}: long_side or scale")
    augs = [RandomResizeLongSide(*resize_long) if resize_type == "long_side" else RandomRescale(*resize_scale)]
    if flip:
        augs.append(T.RandomFlip(horizontal=True, vertical=False))
    return augs


def _to_tensor(image):
    return torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))


class CAMDatasetMapper:
    """Weak record -> {"image": (3, S, S) uint8, "labels": (C,) multi-hot, "image_id", "height", "width"}."""

    @configurable
    def __init__(self, is_train, *, image_format, num_classes, resize_long, crop_size, flip, pad_pixel):
        self.is_train = is_train
        self.image_format = image_format
        self.num_classes = num_classes
        self.augmentations = T.AugmentationList(_augmentations(resize_long, flip))
        self.crop_size = crop_size
        self.pad_pixel = pad_pixel

    @classmethod
    def from_config(cls, cfg, is_train=True):
        return {
            "is_train": is_train,
            "image_format": cfg.INPUT.FORMAT,
            "num_classes": cfg.MODEL.CAM.NUM_CLASSES,
            "resize_long": cfg.INPUT.CAM.RESIZE_LONG,
            "crop_size": cfg.INPUT.CAM.CROP_SIZE,
            "flip": cfg.INPUT.CAM.FLIP,
            "pad_pixel": [round(v) for v in cfg.MODEL.PIXEL_MEAN],
        }

    def labels(self, record):
        labels = torch.zeros(self.num_classes)
        classes = record.get("classes", [])
        if any(c < 0 or c >= self.num_classes for c in classes):
            raise bad_input(record["file_name"], f"class index out of range 0..{self.num_classes - 1}: {classes}",
                            record.get("image_id"))
        labels[list(classes)] = 1.0
        return labels

    def __call__(self, record):
        record = copy.deepcopy(record)
        image = read_image_or_fail(record, self.image_format)
        if self.is_train:
            aug = T.AugInput(image)
            self.augmentations(aug)
            image, _ = pad_crop(aug.image, None, self.crop_size, self.pad_pixel)
        return {
            "image": _to_tensor(image),
            "labels": self.labels(record),
            "image_id": record["image_id"],
            "height": record["height"],
            "width": record["width"],
        }


class IRNetDatasetMapper:
    """Record with ``relation_file_name`` -> {"image": (3, S, S), "relation_label": (S/4, S/4) long, ...}.

    The relation label map (stride 4 of the original image) is upsampled
    (nearest) to image size, transformed with the image, and subsampled
    ``[::4, ::4]`` so it is exactly the stride-4 grid of the crop. A record with
    ``relation_region_file_name`` (instance regions, ``split_by_peaks``) also
    gives "relation_region" (S/4, S/4) long, transformed the same way (0 and
    255: no region). With ``copy_paste`` (a ``RegionPaster``, INPUT.IRNET.COPY_PASTE_PROB > 0), training
    images may get one instance region of another image pasted beside a region of its class first.
    """

    @configurable
    def __init__(self, is_train, *, image_format, resize_long, crop_size, flip, pad_pixel, stride=4,
                 copy_paste=None, resize_type="long_side", resize_scale=(0.5, 1.5)):
        self.is_train = is_train
        self.copy_paste = copy_paste
        self.image_format = image_format
        self.augmentations = T.AugmentationList(_augmentations(resize_long, flip, resize_type, resize_scale))
        self.crop_size = crop_size
        self.pad_pixel = pad_pixel
        self.stride = stride

    @classmethod
    def from_config(cls, cfg, is_train=True, donors=None):
        """donors: the training records (with instance region files) that copy-paste takes regions from."""
        ret = {
            "is_train": is_train,
            "image_format": cfg.INPUT.FORMAT,
            "resize_long": cfg.INPUT.IRNET.RESIZE_LONG,
            "resize_type": cfg.INPUT.IRNET.RESIZE_TYPE,
            "resize_scale": cfg.INPUT.IRNET.RESIZE_SCALE,
            "crop_size": cfg.INPUT.IRNET.CROP_SIZE,
            "flip": cfg.INPUT.IRNET.FLIP,
            "pad_pixel": [round(v) for v in cfg.MODEL.PIXEL_MEAN],
            "stride": cfg.RELATIONS.OUTPUT_STRIDE,
        }
        if is_train and cfg.INPUT.IRNET.COPY_PASTE_PROB > 0:
            if cfg.MODEL.IRNET.DISP_PAIRS_WITHIN != "instance" or not donors:
                raise ValueError("INPUT.IRNET.COPY_PASTE_PROB > 0 needs MODEL.IRNET.DISP_PAIRS_WITHIN instance and "
                                 "the training records (instance region files)")
            ret["copy_paste"] = RegionPaster(
                donors, cfg.INPUT.FORMAT, stride=ret["stride"], prob=cfg.INPUT.IRNET.COPY_PASTE_PROB,
                min_cells=cfg.INPUT.IRNET.COPY_PASTE_CELLS[0], max_cells=cfg.INPUT.IRNET.COPY_PASTE_CELLS[1],
                distance=tuple(cfg.INPUT.IRNET.COPY_PASTE_DISTANCE))
        return ret

    def read_relation_label(self, record, image_hw, key="relation_file_name", what="relation label"):
        """``read_stride_map`` repeated (nearest) to the image's (H, W)."""
        label = read_stride_map(record, image_hw, self.stride, key, what)
        full = np.repeat(np.repeat(label, self.stride, 0), self.stride, 1)
        return full[: image_hw[0], : image_hw[1]]

    def __call__(self, record):
        record = copy.deepcopy(record)
        image = read_image_or_fail(record, self.image_format)
        out = {"image_id": record["image_id"], "height": record["height"], "width": record["width"]}
        if not self.is_train:
            out["image"] = _to_tensor(image)
            return out
        label = self.read_relation_label(record, image.shape[:2])
        region = None
        if "relation_region_file_name" in record:
            region = self.read_relation_label(record, image.shape[:2], "relation_region_file_name",
                                              "instance region")
            if self.copy_paste is not None:
                image, label, region = self.copy_paste(image, label, region)
        aug = T.AugInput(image, sem_seg=label)
        transforms = self.augmentations(aug)
        maps = aug.sem_seg
        if region is not None:
            maps = np.stack([maps, transforms.apply_segmentation(region)], axis=-1)
        image, maps = pad_crop(aug.image, maps, self.crop_size, self.pad_pixel)
        maps = torch.as_tensor(maps[:: self.stride, :: self.stride].astype(np.int64))
        out["image"] = _to_tensor(image)
        if maps.dim() == 3:
            out["relation_label"], out["relation_region"] = maps[..., 0], maps[..., 1]
        else:
            out["relation_label"] = maps
        return out
